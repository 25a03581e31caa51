// The browser tests' harness: the real examples/server built with go
// build and run on a free port, Debian's Chromium driven by playwright-core,
// PostgreSQL and Redis found as the Go tests find them.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: here }).toString().trim();
/** Screenshots go here; the folder is gitignored. */
export const artifacts = path.join(repoRoot, 'clients/js/artifacts');

const workDir = mkdtempSync(path.join(os.tmpdir(), 'embedchat-e2e-'));
let binary: string | null = null;

/** serverBinary builds examples/server once per test process. */
export function serverBinary(): string {
  if (!binary) {
    const out = path.join(workDir, 'server');
    execFileSync('go', ['build', '-o', out, './examples/server'], { cwd: repoRoot, stdio: 'inherit' });
    binary = out;
  }
  return binary;
}

export function cleanupWorkDir(): void {
  rmSync(workDir, { recursive: true, force: true });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A running examples/server process. */
export class DemoServer {
  private proc: ChildProcess | null = null;
  private log = '';

  private constructor(
    readonly port: number,
    private readonly args: string[],
  ) {}

  /** start runs the server with args on a free port and waits until it serves. */
  static async start(args: string[] = []): Promise<DemoServer> {
    const s = new DemoServer(await freePort(), args);
    await s.run();
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** run starts the process (again, on the same port) and waits until it answers. */
  async run(): Promise<void> {
    const proc = spawn(serverBinary(), ['-addr', `127.0.0.1:${this.port}`, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    const keep = (b: Buffer) => {
      this.log = (this.log + b.toString()).slice(-20000);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    for (;;) {
      if (exited) throw new Error('examples/server exited:\n' + this.log);
      try {
        const r = await fetch(this.url + '/');
        if (r.ok) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** kill ends the process at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** stop shuts the server down gracefully (SIGTERM). */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(sig);
    await exited;
  }

  get logs(): string {
    return this.log;
  }
}

/** The shared PostgreSQL and Redis, as internal/testenv finds them. */
export const postgresURL = process.env['CHAT_TEST_POSTGRES_URL'] || 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable';
export const redisURL = process.env['CHAT_TEST_REDIS_URL'] || 'redis://127.0.0.1:6379';

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = net.connect({ host: u.hostname || '127.0.0.1', port: Number(u.port || defaultPort) });
    sock.setTimeout(2000);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
    sock.once('timeout', () => {
      sock.destroy();
      resolve(false);
    });
  });
}

/**
 * needServices skips the test when PostgreSQL (and Redis) cannot be
 * reached, except under CI=true, where it fails it.
 */
export async function needServices(t: TestContext, redis: boolean): Promise<boolean> {
  const missing: string[] = [];
  if (!(await reachable(postgresURL, 5432))) missing.push('PostgreSQL at ' + postgresURL);
  if (redis && !(await reachable(redisURL, 6379))) missing.push('Redis at ' + redisURL);
  if (missing.length === 0) return true;
  const msg = 'unreachable: ' + missing.join(', ') + ' (set CHAT_TEST_POSTGRES_URL / CHAT_TEST_REDIS_URL)';
  if (process.env['CI'] === 'true') throw new Error(msg);
  t.skip(msg);
  return false;
}

/** freshSchema returns a schema name private to this run, dropped when the test ends. */
export function freshSchema(t: TestContext): string {
  const schema = 'e2e_' + randomBytes(6).toString('hex');
  t.after(() => {
    execFileSync('psql', [postgresURL, '-qAtc', `DROP SCHEMA IF EXISTS ${schema} CASCADE`], { stdio: 'pipe' });
  });
  return schema;
}

/** A unique Redis channel prefix for this run. */
export function freshPrefix(): string {
  return 'e2e_' + randomBytes(6).toString('hex') + ':';
}

/** launchBrowser starts Debian's Chromium headless, with a fresh profile. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env['CHROMIUM'] || '/usr/bin/chromium',
    // launch() gives every browser a fresh, temporary --user-data-dir.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A signed-in user in a browser context of their own (own cookies and storage). */
export interface User {
  name: string;
  context: BrowserContext;
  page: Page;
}

export async function signIn(browser: Browser, server: DemoServer, name: string, width = 1280): Promise<User> {
  const context = await browser.newContext({ viewport: { width, height: width < 600 ? 844 : 800 } });
  // Ceilings, not waits: a shared CI machine can be very slow.
  context.setDefaultTimeout(60000);
  const page = await context.newPage();
  page.on('dialog', (d) => void d.accept());
  page.on('pageerror', (err) => {
    console.error(`[${name}] page error:`, err);
  });
  await page.goto(`${server.url}/?as=${encodeURIComponent(name)}`);
  await connected(page);
  return { name, context, page };
}

/** connected waits until the page's connection badge says so. */
export async function connected(page: Page): Promise<void> {
  await page.locator('#conn[data-state="connected"]').waitFor({ timeout: 60000 });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(artifacts, { recursive: true });
  const file = path.join(artifacts, name + '.png');
  await page.screenshot({ path: file });
  return file;
}
