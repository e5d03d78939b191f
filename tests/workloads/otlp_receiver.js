// SPDX-License-Identifier: GPL-2.0-only
// An OTLP/HTTP trace receiver for the tests: it decodes what arrives at /v1/traces with
// the official OpenTelemetry protobuf definitions (the generated root of
// @opentelemetry/otlp-transformer), both http/protobuf and http/json, gzip or not, and
// keeps every span it accepted. It misbehaves on command.
//
//   node otlp_receiver.js OTLP_PORT CONTROL_PORT [--discard]
//   --discard: answer 200 at once without decoding (benchmarks: the receiver's CPU is
//   not the daemon's to pay for); /requests still lists each request
//   control (HTTP on 127.0.0.1:CONTROL_PORT):
//     GET  /spans          every span accepted: [{traceId, spanId, parentSpanId, traceState, name, kind,
//                          start, end, flags, status, attrs{}, resource{}, encoding, gzip}]
//     GET  /requests       every export request seen: [{t, encoding, gzip, spans, answer}]
//     POST /mode?m=ok|down|503|hang[&retry_after=S][&reject=N]
//          ok: 200 (reject=N: a partial_success rejecting N spans of the next request)
//          down: the OTLP port closed (connections refused); 503: 503 with Retry-After S;
//          hang: requests are read and never answered
'use strict';
const http = require('http');
const zlib = require('zlib');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');
const Long = require('protobufjs/minimal').util.Long;

const pb = root.opentelemetry.proto;
const Req = pb.collector.trace.v1.ExportTraceServiceRequest;
const Resp = pb.collector.trace.v1.ExportTraceServiceResponse;
const [otlpPort, ctlPort] = process.argv.slice(2, 4).map(Number);
const discard = process.argv.includes('--discard');

let mode = 'ok', retryAfter = 1, reject = 0;
const spans = [], requests = [], hung = [];
let server = null;

const hex = (b) => Buffer.from(b || []).toString('hex');
const anyValue = (v) => {
	if (!v) return null;
	if (v.stringValue !== undefined && v.stringValue !== null) return v.stringValue;
	if (v.intValue !== undefined && v.intValue !== null) return Number(v.intValue);
	if (v.boolValue !== undefined && v.boolValue !== null) return v.boolValue;
	if (v.doubleValue !== undefined && v.doubleValue !== null) return v.doubleValue;
	return null;
};
const attrs = (list) => Object.fromEntries((list || []).map((kv) => [kv.key, anyValue(kv.value)]));

// The protobuf JSON mapping writes 64-bit integers as decimal strings; protobufjs's
// verify() wants them as Long.
const INT64 = new Set(['startTimeUnixNano', 'endTimeUnixNano', 'timeUnixNano', 'intValue']);
function longs(o) {
	if (Array.isArray(o)) return o.forEach(longs);
	if (!o || typeof o !== 'object' || Buffer.isBuffer(o)) return;
	for (const [k, v] of Object.entries(o)) {
		if (INT64.has(k) && typeof v === 'string') {
			if (!/^-?[0-9]+$/.test(v)) throw new Error(`${k} is not a decimal integer: ${v}`);
			o[k] = Long.fromString(v, k !== 'intValue');
		} else {
			longs(v);
		}
	}
}

// OTLP/JSON (the OTLP specification, "JSON Protobuf Encoding"): the protobuf JSON
// mapping except that trace and span ids are hex strings, not base64.
function fromJson(text) {
	const obj = JSON.parse(text);
	longs(obj);
	for (const rs of obj.resourceSpans || [])
		for (const ss of rs.scopeSpans || [])
			for (const s of ss.spans || [])
				for (const k of ['traceId', 'spanId', 'parentSpanId'])
					if (typeof s[k] === 'string') {
						if (!/^([0-9a-f]{2})*$/.test(s[k]))
							throw new Error(`${k} is not lowercase hex: ${s[k]}`);
						s[k] = Buffer.from(s[k], 'hex');
					}
	const err = Req.verify(obj);
	if (err) throw new Error('not an ExportTraceServiceRequest: ' + err);
	return Req.fromObject(obj);
}

function record(msg, encoding, gzip) {
	let n = 0;
	for (const rs of msg.resourceSpans) {
		const resource = attrs(rs.resource && rs.resource.attributes);
		for (const ss of rs.scopeSpans)
			for (const s of ss.spans) {
				n++;
				spans.push({
					traceId: hex(s.traceId), spanId: hex(s.spanId),
					parentSpanId: hex(s.parentSpanId), traceState: s.traceState || '',
					name: s.name, kind: s.kind,
					start: String(s.startTimeUnixNano), end: String(s.endTimeUnixNano),
					status: s.status ? s.status.code || 0 : 0, attrs: attrs(s.attributes),
					events: (s.events || []).map((e) => e.name),
					resource, scope: ss.scope ? ss.scope.name : '', encoding, gzip,
				});
			}
	}
	return n;
}

function handle(req, res) {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const entry = { t: Date.now() / 1000, path: req.url, encoding: null, gzip: false, spans: 0, answer: null };
		requests.push(entry);
		if (discard && mode === 'ok') {
			entry.answer = 200;
			res.writeHead(200, { 'Content-Type': req.headers['content-type'] || 'application/x-protobuf' });
			return res.end(req.headers['content-type'] === 'application/json' ? '{}' : '');
		}
		if (mode === 'hang') {
			hung.push(res);
			entry.answer = 'hang';
			return;
		}
		if (mode === '503') {
			entry.answer = 503;
			res.writeHead(503, { 'Retry-After': String(retryAfter) });
			return res.end();
		}
		let body = Buffer.concat(chunks), msg;
		const ct = req.headers['content-type'] || '';
		try {
			if (req.url !== '/v1/traces') throw new Error('wrong path ' + req.url);
			if (req.headers['content-encoding'] === 'gzip') {
				body = zlib.gunzipSync(body);
				entry.gzip = true;
			}
			if (ct === 'application/x-protobuf') {
				entry.encoding = 'protobuf';
				msg = Req.decode(body);
			} else if (ct === 'application/json') {
				entry.encoding = 'json';
				msg = fromJson(body.toString('utf8'));
			} else {
				throw new Error('unexpected content-type ' + ct);
			}
		} catch (e) {
			entry.answer = 400;
			entry.error = String(e.message || e);
			process.stderr.write('otlp_receiver: ' + entry.error + '\n');
			res.writeHead(400);
			return res.end();
		}
		const n = record(msg, entry.encoding, entry.gzip);
		entry.spans = n;
		const rej = Math.min(reject, n);
		reject = 0;
		entry.answer = 200;
		entry.rejected = rej;
		const answer = rej ? { partialSuccess: { rejectedSpans: rej, errorMessage: 'test rejects' } } : {};
		if (entry.encoding === 'protobuf') {
			res.writeHead(200, { 'Content-Type': 'application/x-protobuf' });
			res.end(Buffer.from(Resp.encode(Resp.fromObject(answer)).finish()));
		} else {
			res.writeHead(200, { 'Content-Type': 'application/json' });
			res.end(JSON.stringify(rej ? { partialSuccess: { rejectedSpans: String(rej), errorMessage: 'test rejects' } } : {}));
		}
	});
}

function listen(cb) {
	server = http.createServer(handle);
	server.keepAliveTimeout = 60000;
	server.listen(otlpPort, '127.0.0.1', cb);
}

function close(cb) {
	if (!server) return cb();
	const s = server;
	server = null;
	s.close(() => cb());
	s.closeAllConnections();
}

http.createServer((req, res) => {
	const u = new URL(req.url, 'http://x');
	const json = (o) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(o)); };
	if (u.pathname === '/spans') return json(spans);
	if (u.pathname === '/requests') return json(requests);
	if (u.pathname === '/mode') {
		const m = u.searchParams.get('m');
		retryAfter = Number(u.searchParams.get('retry_after') || 1);
		reject = Number(u.searchParams.get('reject') || 0);
		const prev = mode;
		mode = m;
		for (const r of hung.splice(0)) r.destroy();
		if (m === 'down') return close(() => json({ mode }));
		if (prev === 'down' && !server) return listen(() => json({ mode }));
		return json({ mode });
	}
	res.writeHead(404);
	res.end();
}).listen(ctlPort, '127.0.0.1', () => listen(() => process.stdout.write('ready\n')));
