import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** Decodes a /proc/net/tcp{,6} address (`0100007F:1F90`) to `host:port`. */
function decode(hexAddr: string, v6: boolean): string {
  const [h, p] = hexAddr.split(':');
  const port = parseInt(p, 16);
  if (!v6) {
    const b = Buffer.from(h, 'hex');
    return `${b[3]}.${b[2]}.${b[1]}.${b[0]}:${port}`;
  }
  if (/^0{32}$/.test(h)) return `[::]:${port}`;
  if (h === '00000000000000000000000001000000') return `[::1]:${port}`;
  if (h.startsWith('0000000000000000FFFF0000')) {
    const b = Buffer.from(h.slice(24), 'hex');
    return `${b[3]}.${b[2]}.${b[1]}.${b[0]}:${port}`;
  }
  return `[${h}]:${port}`;
}

/**
 * The TCP addresses a process listens on (Linux), read from /proc (its socket inodes
 * matched against the LISTEN rows of /proc/net/tcp and tcp6).
 */
export function listeningAddresses(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      /* fd closed meanwhile */
    }
  }
  const out: string[] = [];
  for (const [file, v6] of [['tcp', false], ['tcp6', true]] as const) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A') continue; // 0A = LISTEN
      if (inodes.has(cols[9])) out.push(decode(cols[1], v6));
    }
  }
  return out;
}

/** True for an address on the loopback interface. */
export function isLoopback(addr: string): boolean {
  return addr.startsWith('127.') || addr.startsWith('[::1]');
}
