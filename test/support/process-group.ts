import type { ChildProcess } from 'node:child_process';

/**
 * SIGKILL to a detached child's whole process group (a runtime and its emulators, uWSGI and its
 * workers) and waits for the child to be gone; nothing is flushed or cleaned up.
 */
export async function killGroup(child: ChildProcess | undefined, exited: Promise<void>): Promise<void> {
  if (!child?.pid) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  await exited;
}
