"""Reads a subunit v2 stream (what `tempest run --subunit` writes) on stdin and prints one JSON
object per test on stdout: {"id", "status", "reason", "traceback"}. Statuses are subunit's:
success, fail, skip, xfail, uxsuccess. Uses python3-subunit and testtools (Tempest's own
dependencies), so the project parses no binary format by hand."""
import json
import sys

import subunit
import testtools


def text(details, name):
    content = details.get(name)
    return content.as_text() if content is not None else None


def emit(test):
    if test['status'] in ('exists', 'inprogress'):
        return
    details = test['details']
    print(json.dumps({
        'id': test['id'],
        'status': test['status'],
        'reason': text(details, 'reason'),
        'traceback': text(details, 'traceback'),
    }))


stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name='stdout')
result = testtools.StreamToDict(emit)
result.startTestRun()
try:
    stream.run(result)
finally:
    result.stopTestRun()
