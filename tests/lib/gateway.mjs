// Starts the real omniroute binary for a test: a fresh DATA_DIR, a free loopback port, and a
// stop() that sends SIGTERM and reports the exit code (non-zero under ASan means a leak/bug).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, child, deadlineMs) {
  const start = Date.now();
  while (Date.now() - start < deadlineMs) {
    if (child.exitCode !== null) throw new Error(`omniroute exited early with ${child.exitCode}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('omniroute did not start listening');
}

export async function startGateway({ env = {}, args = [] } = {}) {
  const bin = process.env.OMNIROUTE_BIN || path.resolve('../build/omniroute');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'omniroute-test-'));
  const port = await freePort();
  const stderr = [];
  const child = spawn(bin, args, {
    env: {
      ...process.env,
      PORT: String(port),
      HOSTNAME: '127.0.0.1',
      DATA_DIR: dataDir,
      INITIAL_PASSWORD: 'test-password',
      OMNIROUTE_WORKERS: '2',
      ...env,
    },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  child.stderr.on('data', (d) => { stderr.push(d); process.stderr.write(d); });
  await waitForPort(port, child, 20000);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    dataDir,
    child,
    stderr: () => Buffer.concat(stderr).toString(),
    // Resident set size of the gateway process in bytes (Linux /proc), or NaN once it exited.
    rss() {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        return m ? Number(m[1]) * 1024 : NaN;
      } catch {
        return NaN;
      }
    },
    async login(password = 'test-password') {
      const res = await fetch(`${url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ password }),
      });
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
      const cookie = res.headers.get('set-cookie');
      return cookie.split(';')[0];
    },
    async stop({ keepData = false } = {}) {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve({ code, sig })));
        child.kill('SIGTERM');
        const r = await exited;
        if (!keepData) rmSync(dataDir, { recursive: true, force: true });
        return r;
      }
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
      return { code: child.exitCode, sig: child.signalCode };
    },
  };
}
