// The MACs of PROTOCOL.md: HMAC-SHA256 over parts, each preceded by its length (big-endian u64).
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';

function asBytes(part) {
  return typeof part === 'string' ? utf8ToBytes(part) : part;
}

export function mac(key, ...parts) {
  const h = hmac.create(sha256, key);
  for (const part of parts.map(asBytes)) {
    const length = new Uint8Array(8);
    new DataView(length.buffer).setBigUint64(0, BigInt(part.length));
    h.update(length);
    h.update(part);
  }
  return h.digest();
}

/** Equal lengths and every byte compared, whatever the first difference. */
function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

function verify(expected, hex) {
  if (typeof hex !== 'string' || !/^([0-9a-f]{2})*$/.test(hex)) return false;
  return sameBytes(expected, hexToBytes(hex));
}

export const phoneProof = (pairingKey, pairing) => bytesToHex(mac(pairingKey, 'cabin/v1 phone proof', pairing));
export const verifyCarProof = (pairingKey, pairing, proof) => verify(mac(pairingKey, 'cabin/v1 car proof', pairing), proof);
export const requestKey = (pairingKey) => bytesToHex(mac(pairingKey, 'cabin/v1 request key'));

/** The MAC of a request's exact payload bytes sent with `responseTopic`, as hex. */
export const signRequest = (keyHex, responseTopic, payload) =>
  bytesToHex(mac(hexToBytes(keyHex), 'cabin/v1 request', responseTopic, payload));

export const verifyResponse = (keyHex, id, payload, macHex) =>
  verify(mac(hexToBytes(keyHex), 'cabin/v1 response', id, payload), macHex);

/** Whether a hand-off the car sent is signed with this phone's key: none other is shown. */
export const verifyHandoff = (keyHex, id, payload, macHex) =>
  verify(mac(hexToBytes(keyHex), 'cabin/v1 handoff', id, payload), macHex);

/**
 * Whether what the car said to all its phones on `topic` (its status, an event) carries this
 * phone's MAC of it: anyone on the broker can publish there.
 */
export const verifyNotice = (keyHex, topic, payload, macHex) =>
  verify(mac(hexToBytes(keyHex), 'cabin/v1 notice', topic, payload), macHex);
