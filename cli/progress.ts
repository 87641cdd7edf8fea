/**
 * A progress bar with throughput and ETA, drawn on stderr when it is a terminal (glance draws
 * its percentage there too), nothing otherwise: scripts and logs get only the final result.
 */
export interface Progress {
  /** `bytes` more have gone (negative when a retried part starts over). */
  add(bytes: number): void;
  done(): void;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
export function humanBytes(n: number): string {
  let u = 0;
  while (n >= 1024 && u < UNITS.length - 1) {
    n /= 1024;
    u++;
  }
  return `${u === 0 ? n : n.toFixed(1)} ${UNITS[u]}`;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function progressBar(total: number, initial: number, enabled: boolean, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!enabled || !stream.isTTY) return { add() {}, done() {} };
  let sent = initial;
  const started = Date.now();
  let last = 0;
  const draw = (final = false) => {
    const now = Date.now();
    if (!final && now - last < 150) return;
    last = now;
    const elapsed = Math.max((now - started) / 1000, 0.001);
    const rate = (sent - initial) / elapsed;
    const fraction = total ? Math.min(sent / total, 1) : 1;
    const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - 50));
    const filled = Math.round(fraction * width);
    const eta = rate > 0 ? (total - sent) / rate : Infinity;
    const text = `[${'='.repeat(filled)}${' '.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${humanBytes(sent)}/${humanBytes(total)} ${humanBytes(rate)}/s ETA ${final ? clock(elapsed) : clock(eta)}`;
    stream.write(`\r${text}\x1b[K`);
  };
  draw(true);
  return {
    add(bytes) {
      sent += bytes;
      draw();
    },
    done() {
      draw(true);
      stream.write('\n');
    },
  };
}
