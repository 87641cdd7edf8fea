// A stand-in DynamoDB endpoint for bench section 2's first-answer timings: it answers every
// GetItem with no item and every Query with an empty page, at once, so what is timed is the
// function's own cold start rather than a database. Prints its port on stdout.
import { createServer } from 'node:http';

const ANSWERS = {
  'DynamoDB_20120810.GetItem': {},
  'DynamoDB_20120810.Query': { Items: [], Count: 0, ScannedCount: 0 },
};
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const answer = ANSWERS[req.headers['x-amz-target']];
    res.writeHead(answer ? 200 : 400, { 'content-type': 'application/x-amz-json-1.0' });
    res.end(JSON.stringify(answer ?? { __type: 'com.amazon.coral.validate#ValidationException', message: 'not faked' }));
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
