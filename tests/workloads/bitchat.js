#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-only
'use strict';
/*
 * BitChat-like WebSocket workload on node `ws` (and Chromium, through playwright-core),
 * the counterpart of bitchat.py for fogprobe's integration tests: the same exchange
 * (DESIGN.md, "The watched system") and the same JSON summary, from real clients that
 * compress with permessage-deflate (RFC 7692). Modules come from tests/workloads/
 * node_modules (tests/deps.sh installs package-lock.json there).
 *
 *   bitchat.js server PORT [options]   "listening on ADDR:PORT" on stderr; exits once
 *                                      --clients connections have ended (or --duration S,
 *                                      default 60, or SIGTERM), prints one JSON summary
 *     --bind ADDR, --clients C, --direct D, --room-messages M, --pong-delay-ms P,
 *     --push-interval-ms I, --content-bytes B     as for bitchat.py
 *     GET / serves a page (bitchat.html's script) that runs the client side in a browser
 *   bitchat.js client HOST PORT [options]   node ws clients; one JSON summary on stdout
 *     --clients, --direct, --room-messages, --rooms, --pings, --ack-delay-ms,
 *     --hold-seconds, --content-bytes, --timeout, --endpoint bitchat|connect   as for
 *     bitchat.py (every connection ends with a normal close)
 *   bitchat.js browser URL [client options]   Chromium (/usr/bin/chromium, headless, a
 *     fresh profile) opens URL (the server's page), which runs the clients; the page's
 *     summary is printed on stdout
 *
 * permessage-deflate (both ends; the server's answer is what is agreed):
 *   --deflate on|off (default on), --server-max-window-bits N, --client-max-window-bits N
 *   (8..15), --server-no-context-takeover, --client-no-context-takeover, --threshold B
 *   (ws compresses only messages of at least B bytes; ws's own default is 1024, here 0)
 * The server's summary adds "extensions": {Sec-WebSocket-Extensions value: connections}.
 *
 * Times are taken where the server's socket moves the bytes, as bitchat.py's are: ws
 * inflates and deflates in zlib's thread pool, so a message event comes after its read
 * and a send's callback after the deflate, by as much as the pool is busy. A push or a
 * pong is timed where node hands its frame to the kernel (stampWrites), an ack or a ping
 * at the read that completed its frame (readTimes: the frames are delimited on the
 * socket's bytes; a client acks while it pings, so reads and messages interleave).
 */
const http = require('http');
const path = require('path');
const fs = require('fs');
const os = require('os');
const crypto = require('crypto');

const WS_MODULES = path.join(__dirname, 'node_modules');
const WebSocket = require(path.join(WS_MODULES, 'ws'));

function parseArgs(argv) {
	const o = {
		bind: '0.0.0.0', clients: 1, direct: 2, roomMessages: 3, pongDelayMs: 0,
		pushIntervalMs: 0, contentBytes: 40, rooms: 2, pings: 2, ackDelayMs: 0,
		holdSeconds: 0, timeout: 20, duration: 60, endpoint: 'bitchat', deflate: 'on',
		serverMaxWindowBits: null, clientMaxWindowBits: null, serverNoContextTakeover: false,
		clientNoContextTakeover: false, threshold: 0, pos: [],
	};
	const num = {
		'--clients': 'clients', '--direct': 'direct', '--room-messages': 'roomMessages',
		'--pong-delay-ms': 'pongDelayMs', '--push-interval-ms': 'pushIntervalMs',
		'--content-bytes': 'contentBytes', '--rooms': 'rooms', '--pings': 'pings',
		'--ack-delay-ms': 'ackDelayMs', '--hold-seconds': 'holdSeconds', '--timeout': 'timeout',
		'--duration': 'duration', '--server-max-window-bits': 'serverMaxWindowBits',
		'--client-max-window-bits': 'clientMaxWindowBits', '--threshold': 'threshold',
	};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (num[a]) o[num[a]] = Number(argv[++i]);
		else if (a === '--bind') o.bind = argv[++i];
		else if (a === '--endpoint') o.endpoint = argv[++i];
		else if (a === '--deflate') o.deflate = argv[++i];
		else if (a === '--server-no-context-takeover') o.serverNoContextTakeover = true;
		else if (a === '--client-no-context-takeover') o.clientNoContextTakeover = true;
		else if (a.startsWith('--')) throw new Error('unknown option ' + a);
		else o.pos.push(a);
	}
	return o;
}

function deflateOptions(o) {
	if (o.deflate !== 'on') return false;
	const d = { threshold: o.threshold };
	if (o.serverMaxWindowBits) d.serverMaxWindowBits = o.serverMaxWindowBits;
	if (o.clientMaxWindowBits) d.clientMaxWindowBits = o.clientMaxWindowBits;
	if (o.serverNoContextTakeover) d.serverNoContextTakeover = true;
	if (o.clientNoContextTakeover) d.clientNoContextTakeover = true;
	return d;
}

// The tally both workloads print (bitchat.py's Tally).
function newTally() {
	return {
		connections: 0, messages: {}, endings: { normal: 0, abnormal_close: 0, reset: 0, no_close_frame: 0 },
		rooms: {}, pushes: 0, acks: 0, acksByRoom: {}, lat: [], pongLat: [], errors: 0,
		extensions: {},
	};
}

function tallyMsg(t, obj) {
	const room = obj.type === 'group_message' && obj.group_id != null ? String(obj.group_id) : 'none';
	const type = obj.type === undefined ? '?' : obj.type;
	t.messages[type] = t.messages[type] || {};
	t.messages[type][room] = (t.messages[type][room] || 0) + 1;
}

function meanOf(v) {
	return { mean: v.length ? Math.round(v.reduce((a, b) => a + b, 0) / v.length * 1000) / 1000 : null, n: v.length };
}

function summary(t, expectedAcks) {
	const sorted = (o) => Object.fromEntries(Object.entries(o).sort());
	return {
		connections: t.connections,
		messages: sorted(Object.fromEntries(Object.entries(t.messages).map(([k, v]) => [k, v]))),
		endings: t.endings, rooms: sorted(t.rooms), pushes: t.pushes, acks: t.acks,
		acks_missing: expectedAcks - t.acks, acks_by_push_room: sorted(t.acksByRoom),
		ack_latency_ms: meanOf(t.lat), pong_latency_ms: meanOf(t.pongLat), errors: t.errors,
		extensions: t.extensions,
	};
}

function content(n, seq) {
	const base = 'msg ' + seq + ' ';
	return (base + 'x'.repeat(Math.max(0, n))).slice(0, n);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6;

/*
 * When each message a client sent was read: the time of the read that completed its last
 * frame (frame headers parsed from the socket's bytes as they come), one entry per data
 * message, in the order ws emits them. Control frames (ws answers pings itself) have none.
 * The bytes are taken at push(), which node calls as the read returns: a 'data' event can
 * come much later, as ws pauses the socket while zlib inflates and node keeps what it
 * had read until the socket resumes.
 */
function readTimes(sock) {
	const q = [];
	let hdr = [], skip = 0, fin = false, ctl = false;
	const push = sock.push;
	sock.push = function (buf, ...a) {
		if (buf) frames(buf, now());
		return push.call(this, buf, ...a);
	};
	const frames = (buf, t) => {
		for (let i = 0; i < buf.length;) {
			if (skip > 0) {
				const n = Math.min(skip, buf.length - i);
				skip -= n;
				i += n;
			} else {
				hdr.push(buf[i++]);
				if (hdr.length < 2) continue;
				const len7 = hdr[1] & 0x7f, masked = hdr[1] & 0x80 ? 4 : 0;
				const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + masked;
				if (hdr.length < need) continue;
				let len = len7;
				if (len7 === 126) len = hdr[2] * 256 + hdr[3];
				else if (len7 === 127) for (let k = 2; k < 10; k++) len = len * 256 + hdr[k];
				fin = (hdr[0] & 0x80) !== 0;
				ctl = (hdr[0] & 0x08) !== 0;
				hdr = [];
				skip = len;
			}
			if (skip === 0 && hdr.length === 0 && fin && !ctl) {
				q.push(t);
				fin = false;
			}
		}
	};
	return q;
}

/*
 * When each frame ws sends reaches the kernel: ws writes a frame as one write, or as a
 * corked header and payload flushed together, and hands the send's callback, unchanged, to
 * the last write. Node gives a chunk to the kernel at _write (or at _writev, for chunks
 * buffered behind a cork or a write still in progress), which can be later than the
 * write() call; the send's callback comes later still, by as much as the event loop is
 * busy. The time of that _write or _writev goes on the callback, as `written`.
 */
function stampWrites(sock) {
	const pending = []; /* per write() call, in order: its callback, or null */
	const write = sock.write, _write = sock._write, _writev = sock._writev;
	sock.write = function (chunk, enc, cb) {
		pending.push((typeof enc === 'function' ? enc : cb) || null);
		return write.apply(this, arguments);
	};
	const stamp = (n) => {
		const t = now();
		for (let k = 0; k < n && pending.length; k++) {
			const cb = pending.shift();
			if (cb) cb.written = t;
		}
	};
	sock._write = function (...a) { stamp(1); return _write.apply(this, a); };
	sock._writev = function (chunks, ...a) { stamp(chunks.length); return _writev.call(this, chunks, ...a); };
}

// ---- server --------------------------------------------------------------------------

function runServer(o) {
	const port = Number(o.pos[0]);
	const t = newTally();
	const conns = [];
	let doneCount = 0, seq = 0, finished = false;
	const page = fs.readFileSync(path.join(__dirname, 'bitchat.html'));
	const server = http.createServer((req, res) => {
		if (req.url === '/favicon.ico') {
			res.writeHead(204);
			res.end();
		} else if (req.url === '/' || req.url.startsWith('/?')) {
			res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
			res.end(page);
		} else {
			res.writeHead(404);
			res.end();
		}
	});
	const wss = new WebSocket.Server({ server, perMessageDeflate: deflateOptions(o) });
	// what the 101 agreed, as written on the wire
	const agreed = new WeakMap();
	wss.on('headers', (headers, req) => {
		const h = headers.find((l) => /^sec-websocket-extensions:/i.test(l));
		agreed.set(req, h ? h.replace(/^[^:]*:\s*/, '') : '');
	});

	// resolves once ws handed the frame to the socket (compression runs in zlib's thread
	// pool first): the time a probe of the socket sees it written
	const send = (c, obj) => new Promise((resolve) => {
		tallyMsg(t, obj);
		const done = (err) => {
			if (err || done.written === undefined) t.errors++;
			resolve(done.written);
		};
		c.ws.send(JSON.stringify(obj), done);
	});

	async function pusher() {
		const members = {};
		for (const c of conns)
			for (const r of c.rooms) (members[r] = members[r] || []).push(c);
		for (const r of Object.keys(members)) t.rooms[r] = members[r].length;
		const direct = [];
		for (let k = 0; k < o.direct; k++) for (const c of conns) direct.push(['message', null, [c]]);
		const group = [];
		for (let k = 0; k < o.roomMessages; k++)
			for (const r of Object.keys(members).sort()) group.push(['group_message', r, members[r]]);
		const plan = [];
		for (let i = 0; i < Math.max(direct.length, group.length); i++) {
			if (i < direct.length) plan.push(direct[i]);
			if (i < group.length) plan.push(group[i]);
		}
		for (const [kind, room, targets] of plan) {
			seq++;
			const mid = crypto.randomUUID();
			const data = { message_id: mid, sender: 'peer-server', content: content(o.contentBytes, seq),
				timestamp: Math.round(Date.now()) / 1000 };
			const obj = kind === 'group_message' ? { type: kind, group_id: room, data } : { type: kind, data };
			for (const c of targets) {
				const ent = [null, room || 'none'];
				c.sentAt.set(mid, ent);
				t.pushes++;
				ent[0] = await send(c, obj);
			}
			if (o.pushIntervalMs) await sleep(o.pushIntervalMs);
		}
	}

	function finish() {
		if (finished) return;
		finished = true;
		process.stdout.write(JSON.stringify(summary(t, t.pushes)) + '\n');
		wss.close();
		server.close();
		setTimeout(() => process.exit(0), 100);
	}

	wss.on('connection', (ws, req) => {
		const url = new URL(req.url, 'http://x');
		const c = { ws, rooms: [], sentAt: new Map(), reads: readTimes(req.socket) };
		stampWrites(req.socket);
		const ext = agreed.get(req) || '';
		t.extensions[ext] = (t.extensions[ext] || 0) + 1;
		t.connections++;
		let registered = false;
		const register = () => {
			registered = true;
			conns.push(c);
			if (conns.length === o.clients) pusher().catch(() => t.errors++);
		};
		if (url.pathname.startsWith('/api/bitchat/ws/')) {
			const g = url.searchParams.get('groups');
			if (g) c.rooms.push(...g.split(',').filter(Boolean));
			register();
		} else if (url.pathname !== '/api/ws/connect') {
			ws.close(1008, 'unknown path');
			t.errors++;
		}
		ws.on('message', async (raw) => {
			let obj;
			try { obj = JSON.parse(raw.toString()); } catch (e) { t.errors++; return; }
			tallyMsg(t, obj);
			const tr = c.reads.shift();
			if (obj.type === 'ping') {
				const t0 = tr;
				if (o.pongDelayMs) await sleep(o.pongDelayMs);
				t.pongLat.push((await send(c, { type: 'pong' })) - t0);
			} else if (obj.type === 'ack') {
				const ent = c.sentAt.get(obj.message_id);
				if (!ent) { t.errors++; return; }
				c.sentAt.delete(obj.message_id);
				t.acks++;
				t.acksByRoom[ent[1]] = (t.acksByRoom[ent[1]] || 0) + 1;
				if (ent[0] === null) t.errors++; /* acked before its write returned */
				else t.lat.push(tr - ent[0]);
			} else if (obj.type === 'subscribe' && !registered) {
				c.rooms.push(...(obj.rooms || []));
				register();
			}
		});
		ws.on('close', (code) => {
			t.endings[code === 1000 || code === 1001 ? 'normal' : code === 1006 ? 'no_close_frame' : 'abnormal_close']++;
			if (++doneCount >= o.clients) finish();
		});
		ws.on('error', () => t.errors++);
	});
	for (const s of ['SIGTERM', 'SIGINT']) process.on(s, finish);
	setTimeout(finish, o.duration * 1000);
	server.listen(port, o.bind, () => process.stderr.write(`listening on ${o.bind}:${port}\n`));
}

// ---- node clients -------------------------------------------------------------------------

function roomsOf(i, n) {
	const r = [];
	if (n > 0) for (let k = 0; k <= i % n; k++) r.push('room-' + k);
	return r;
}

async function clientOne(i, o, t, gate) {
	const rooms = roomsOf(i, o.rooms);
	let p = o.endpoint === 'bitchat' ? '/api/bitchat/ws/peer-' + i : '/api/ws/connect';
	if (o.endpoint === 'bitchat' && rooms.length) p += '?groups=' + rooms.join(',');
	const expect = o.direct + o.roomMessages * rooms.length;
	const ws = new WebSocket(`ws://${o.pos[0]}:${o.pos[1]}${p}`, { perMessageDeflate: deflateOptions(o) });
	await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
	t.connections++;
	for (const r of rooms) t.rooms[r] = (t.rooms[r] || 0) + 1;
	const send = (obj) => new Promise((res) => { tallyMsg(t, obj); ws.send(JSON.stringify(obj), () => res()); });
	const pongs = [];
	let got = 0, ackedResolve;
	const acked = new Promise((r) => { ackedResolve = r; });
	if (expect === 0) ackedResolve();
	ws.on('message', (raw) => {
		const t0 = now();
		const obj = JSON.parse(raw.toString());
		tallyMsg(t, obj);
		if (obj.type === 'pong') {
			const w = pongs.shift();
			if (w) w();
		} else if (obj.type === 'message' || obj.type === 'group_message') {
			t.pushes++;
			const room = obj.type === 'group_message' ? obj.group_id : 'none';
			(async () => {
				if (o.ackDelayMs) await sleep(o.ackDelayMs);
				await send({ type: 'ack', message_id: obj.data.message_id });
				t.lat.push(now() - t0);
				t.acks++;
				t.acksByRoom[room] = (t.acksByRoom[room] || 0) + 1;
				if (++got === expect) ackedResolve();
			})();
		}
	});
	if (o.endpoint === 'connect') await send({ type: 'subscribe', rooms });
	for (let k = 0; k < o.pings; k++) {
		const w = new Promise((r) => pongs.push(r));
		await send({ type: 'ping' });
		await w;
	}
	await acked;
	gate.ready();
	await gate.release;
	await new Promise((res) => { ws.once('close', res); ws.close(1000); });
	t.endings.normal++;
	return expect;
}

async function runClients(o) {
	const t = newTally();
	let readyN = 0, releaseResolve;
	const release = new Promise((r) => { releaseResolve = r; });
	const gate = {
		release,
		ready() {
			if (++readyN === o.clients) {
				process.stderr.write(`holding ${o.clients}\n`);
				setTimeout(releaseResolve, o.holdSeconds * 1000);
			}
		},
	};
	const timer = setTimeout(() => { t.errors++; process.stderr.write('client timeout\n'); finish(0); }, o.timeout * 1000);
	let expected = 0;
	const finish = (code) => { process.stdout.write(JSON.stringify(summary(t, expected)) + '\n'); process.exit(code); };
	const res = await Promise.allSettled([...Array(o.clients).keys()].map((i) => clientOne(i, o, t, gate)));
	clearTimeout(timer);
	for (const r of res) {
		if (r.status === 'fulfilled') expected += r.value;
		else { t.errors++; process.stderr.write('client error: ' + r.reason + '\n'); }
	}
	finish(t.errors ? 1 : 0);
}

// ---- Chromium ----------------------------------------------------------------------------

async function runBrowser(o) {
	const { chromium } = require(path.join(WS_MODULES, 'playwright-core'));
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'fogprobe-chromium-'));
	const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		'--disable-background-networking', '--disable-component-update', '--disable-sync'];
	let ctx;
	try {
		// launchPersistentContext: the profile is passed as --user-data-dir
		ctx = await chromium.launchPersistentContext(profile, {
			executablePath: '/usr/bin/chromium', headless: true, args, timeout: o.timeout * 1000,
		});
		const page = ctx.pages()[0] || await ctx.newPage();
		page.on('console', (m) => { if (m.type() === 'error') process.stderr.write('page: ' + m.text() + '\n'); });
		const q = new URLSearchParams({
			clients: o.clients, direct: o.direct, room_messages: o.roomMessages, rooms: o.rooms,
			pings: o.pings, ack_delay_ms: o.ackDelayMs, hold_seconds: o.holdSeconds,
			endpoint: o.endpoint, timeout: o.timeout,
		});
		await page.exposeFunction('fpHolding', (n) => process.stderr.write(`holding ${n}\n`));
		await page.goto(o.pos[0] + '?' + q.toString());
		const s = await page.waitForFunction(() => window.fpSummary, null,
			{ timeout: (o.timeout + o.holdSeconds + 5) * 1000 });
		const sum = await s.jsonValue();
		process.stdout.write(JSON.stringify(sum) + '\n');
		await ctx.close();
		fs.rmSync(profile, { recursive: true, force: true });
		process.exit(sum.errors ? 1 : 0);
	} catch (e) {
		process.stderr.write('browser error: ' + (e && e.stack || e) + '\n');
		if (ctx) await ctx.close().catch(() => {});
		fs.rmSync(profile, { recursive: true, force: true });
		process.exit(2);
	}
}

function main() {
	const [cmd, ...rest] = process.argv.slice(2);
	const o = parseArgs(rest);
	if (cmd === 'server') runServer(o);
	else if (cmd === 'client') runClients(o).catch((e) => { process.stderr.write(String(e) + '\n'); process.exit(2); });
	else if (cmd === 'browser') runBrowser(o);
	else {
		process.stderr.write('usage: bitchat.js server PORT | client HOST PORT | browser URL [options]\n');
		process.exit(2);
	}
}

main();
