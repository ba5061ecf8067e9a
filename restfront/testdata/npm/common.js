'use strict';
// Shared harness for the npm client scripts (n1.js, n2.js): configuration
// from the environment, a step runner that prints one JSON line per step,
// a recorder of the HTTP exchanges the client libraries make, and the
// checkpoint handshake with the Go test.
//
// Environment:
//   CROWD_URL         server root, e.g. http://127.0.0.1:1234/ (the clients
//                     append rest/usermanagement/1 themselves)
//   CROWD_APP         application name
//   CROWD_PASSWORD    application password
//   CROWD_DENIED_APP  optional "name:password" of an application the server
//                     refuses this client address (expects 403)
//   CROWD_READONLY_APP optional "name:password" of an application without
//                     write permission (expects 403 on writes)
//   CROWD_NPM_DIR     directory whose node_modules holds the locked clients
//                     (set by npmclient_test.go); default: normal resolution
//   CROWD_NO_CHECKPOINT=1  do not wait for the Go test at checkpoints
//   CROWD_STEP_TIMEOUT_MS  per-step limit (default 30000)
//
// Output (stdout): one JSON object per line:
//   {"step":"...","ok":true,"ms":N}  or
//   {"step":"...","ok":false,"error":"...","http":["GET /... -> 404 ..."],"ms":N}
//   {"checkpoint":"...","expect":{...}}  then a line is read from stdin
//   {"done":true,"passed":N,"failed":M}  last line
// Exit status 0 only when every step passed.

const http = require('http');
const path = require('path');
const assert = require('assert');

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return v;
}

const config = {
  url: need('CROWD_URL'),
  app: need('CROWD_APP'),
  password: need('CROWD_PASSWORD'),
  deniedApp: splitApp(process.env.CROWD_DENIED_APP),
  readonlyApp: splitApp(process.env.CROWD_READONLY_APP),
  stepTimeout: Number(process.env.CROWD_STEP_TIMEOUT_MS || 30000),
};

function splitApp(s) {
  if (!s) return null;
  const i = s.indexOf(':');
  return { name: s.slice(0, i), password: s.slice(i + 1) };
}

// load requires a package (or a file inside one) from CROWD_NPM_DIR when
// set, so that the locked install is used whatever lies around this file.
function load(name) {
  const dir = process.env.CROWD_NPM_DIR;
  if (!dir) return require(name);
  return require(require.resolve(name, { paths: [path.resolve(dir)] }));
}

// The exchange recorder: every http.request the libraries make is noted
// (method, path, status, content type), so steps can check status codes the
// libraries' public APIs do not expose (201 on create, 204 on delete).
const exchanges = [];
const origRequest = http.request;
http.request = function recordedRequest(...args) {
  const req = origRequest.apply(this, args);
  const entry = { method: req.method, path: req.path, status: 0, type: undefined, location: undefined, version: undefined };
  exchanges.push(entry);
  req.prependListener('response', (res) => {
    entry.status = res.statusCode;
    entry.type = res.headers['content-type'];
    entry.location = res.headers.location;
    entry.version = res.headers['x-embedded-crowd-version'];
  });
  return req;
};

// lastExchange returns the most recent exchange whose method matches and
// whose path (after the API root, without the query) equals resource.
function lastExchange(method, resource) {
  for (let i = exchanges.length - 1; i >= 0; i--) {
    const e = exchanges[i];
    const p = e.path.split('?')[0];
    if (e.method === method && p.endsWith('/rest/usermanagement/1' + resource)) return e;
  }
  return null;
}

function expectStatus(method, resource, status) {
  const e = lastExchange(method, resource);
  assert.ok(e, `no ${method} ${resource} request was made`);
  assert.strictEqual(e.status, status, `${method} ${e.path}: HTTP status`);
}

// expectLocation checks the Location header of the last such exchange
// (crowd-rest.md §5: 201 answers point at the created resource).
function expectLocation(method, resource, suffix) {
  const e = lastExchange(method, resource);
  assert.ok(e, `no ${method} ${resource} request was made`);
  assert.ok(e.location && e.location.endsWith(suffix), `${method} ${e.path}: Location ${e.location} should end with ${suffix}`);
}

// checkTransport checks every exchange so far against crowd-rest.md §1:
// X-Embedded-Crowd-Version on every response (T2), and a JSON content type
// on every answer that has a body (T6, T7; 401/403 are not parsed by these
// clients and may be plain text). exact: the type must be exactly
// "application/json" (what atlassian-crowd compares against).
function checkTransport(exact, skip = () => false) {
  const problems = [];
  for (const e of exchanges) {
    const what = `${e.method} ${e.path} -> ${e.status}`;
    if (!e.version) problems.push(`${what}: no X-Embedded-Crowd-Version header`);
    if (e.status === 204 || e.status === 401 || e.status === 403 || skip(e)) continue;
    const t = e.type || '';
    const ok = exact ? t === 'application/json' : t.split(';')[0].trim() === 'application/json';
    if (!ok) problems.push(`${what}: Content-Type ${JSON.stringify(e.type)}`);
  }
  assert.ok(exchanges.length > 0, 'no exchanges recorded');
  assert.deepStrictEqual(problems, [], `${problems.length} of ${exchanges.length} responses`);
}

// Steps.
let passed = 0;
let failed = 0;

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// withTimeout bounds a step (a guard against a hung request, not a wait:
// nothing here sleeps). Written without Promise.prototype.finally because
// atlassian-crowd-client loads an old core-js shim.
function withTimeout(p, ms, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

function describe(err) {
  if (!err) return String(err);
  let s = err.message || String(err);
  if (err.type) s = `[${err.type}] ${s}`;
  return s;
}

// step runs fn (which may return a promise) and reports it. It never
// throws, so later steps (and the cleanup) always run.
async function step(name, fn) {
  const before = exchanges.length;
  const start = Date.now();
  try {
    await withTimeout(Promise.resolve().then(fn), config.stepTimeout, name);
    passed++;
    emit({ step: name, ok: true, ms: Date.now() - start });
    return true;
  } catch (err) {
    failed++;
    const calls = exchanges.slice(before).map((e) => `${e.method} ${e.path} -> ${e.status} ${e.type || ''}`.trim());
    emit({ step: name, ok: false, error: describe(err), http: calls, ms: Date.now() - start });
    return false;
  }
}

// rejects asserts that promise p fails with an error whose .type is type.
async function rejects(p, type) {
  let res;
  try {
    res = await p;
  } catch (err) {
    assert.strictEqual(err.type, type, `error type (message: ${err.message})`);
    return err;
  }
  throw new Error(`expected an error of type ${type}, got success: ${JSON.stringify(res)}`);
}

// cb turns a node-style callback API call into a promise:
//   await cb((done) => crowd.user.find('x', done))
// resolves with the result, rejects with the error.
function cb(call) {
  return new Promise((resolve, reject) => {
    call((err, res) => (err ? reject(err) : resolve(res)));
  });
}

// Checkpoint: tell the Go test what the client wrote, and wait for it to
// look at the server's store before the script cleans up.
let stdinLines = null;
function nextStdinLine() {
  if (!stdinLines) {
    stdinLines = { buf: '', waiting: [], lines: [], ended: false };
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => {
      stdinLines.buf += chunk;
      let i;
      while ((i = stdinLines.buf.indexOf('\n')) >= 0) {
        const line = stdinLines.buf.slice(0, i);
        stdinLines.buf = stdinLines.buf.slice(i + 1);
        const w = stdinLines.waiting.shift();
        if (w) w.resolve(line);
        else stdinLines.lines.push(line);
      }
    });
    process.stdin.on('end', () => {
      stdinLines.ended = true;
      for (const w of stdinLines.waiting.splice(0)) w.reject(new Error('stdin closed'));
    });
  }
  if (stdinLines.lines.length) return Promise.resolve(stdinLines.lines.shift());
  if (stdinLines.ended) return Promise.reject(new Error('stdin closed'));
  return new Promise((resolve, reject) => {
    stdinLines.waiting.push({ resolve, reject });
  });
}

async function checkpoint(name, expect) {
  if (process.env.CROWD_NO_CHECKPOINT === '1') return;
  emit({ checkpoint: name, expect });
  const line = await nextStdinLine().catch((err) => `error: ${err.message}`);
  if (line.trim() !== 'continue') {
    failed++;
    emit({ step: `checkpoint ${name}`, ok: false, error: `the Go test answered ${JSON.stringify(line)}` });
  }
  if (stdinLines && stdinLines.waiting.length === 0) process.stdin.pause();
}

// fatal reports an error outside any step (the script itself broke).
function fatal(err) {
  failed++;
  emit({ step: 'script', ok: false, error: describe(err) + '\n' + (err && err.stack) });
}

function finish() {
  emit({ done: true, passed, failed });
  // Let stdout drain, then leave with the verdict (keep-alive sockets
  // of the global agent would otherwise keep the process up a while).
  process.stdout.write('', () => process.exit(failed === 0 && passed > 0 ? 0 : 1));
}

process.on('unhandledRejection', (err) => {
  failed++;
  emit({ step: 'unhandled rejection', ok: false, error: describe(err) });
});
process.on('uncaughtException', (err) => {
  failed++;
  emit({ step: 'uncaught exception', ok: false, error: describe(err) + '\n' + (err && err.stack) });
  finish();
});

// sorted copies and sorts an array of strings (case-insensitively, as
// Crowd orders names).
function sorted(a) {
  return [...a].sort((x, y) => x.toLowerCase().localeCompare(y.toLowerCase()));
}

module.exports = {
  config, load, step, rejects, cb, checkpoint, fatal, finish, expectStatus, expectLocation, checkTransport, lastExchange, sorted, assert,
};
