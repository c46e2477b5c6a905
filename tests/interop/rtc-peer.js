// A Gun.js client with WebRTC on (lib/webrtc.js over @roamhq/wrtc, no
// browser), signalled through the relay at PORT, for the WebRTC tests.
//
//   PORT=8765 ROOM=test node rtc-peer.js
//
// Reads JSON commands, one per line: {"sub": true} listens to rtc-test.x,
// {"put": v} puts v there. Prints JSON events, one per line: {"pid"},
// {"rtc": peer-id} when a data channel to a peer opens, {"got": v} for
// each value heard.
//
// Safety: no ICE servers (no STUN), multicast off; it refuses to start
// unless its network namespace has no interface but the loopback.
'use strict';
const os = require('os');
const names = Object.keys(os.networkInterfaces());
if (names.some((n) => n !== 'lo')) {
  console.error(`refusing: WebRTC candidates would leave the machine; interfaces: ${names}`);
  process.exit(2);
}
const Gun = require('gun/gun');
require('gun/lib/webrtc');
const wrtc = require('@roamhq/wrtc');
const WebSocket = require('ws');

const port = Number(process.env.PORT || 8765);
const gun = Gun({
  peers: [`http://127.0.0.1:${port}/gun`],
  WebSocket,
  localStorage: false,
  file: false,
  multicast: false,
  rtc: { iceServers: [], room: process.env.ROOM || 'test' },
  RTCPeerConnection: wrtc.RTCPeerConnection,
  RTCSessionDescription: wrtc.RTCSessionDescription,
  RTCIceCandidate: wrtc.RTCIceCandidate,
});
const root = gun.back(-1)._;
const say = (event) => process.stdout.write(JSON.stringify(event) + '\n');
say({ pid: root.opt.pid });
root.on('hi', function (peer) {
  this.to.next(peer);
  // A WebSocket peer has a url; a WebRTC one only its pid.
  if (!peer.url) say({ rtc: peer.id });
});
let buffered = '';
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  let nl;
  while ((nl = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (!line.trim()) continue;
    const cmd = JSON.parse(line);
    if (cmd.sub) gun.get('rtc-test').get('x').on((v) => say({ got: v }));
    if (cmd.put !== undefined) gun.get('rtc-test').get('x').put(cmd.put);
  }
});
process.stdin.on('end', () => process.exit(0));
