// SPAKE2 as the car runs it (RustCrypto's `spake2` 0.4, Ed25519 group, asymmetric): the phone is
// side A. Only the protocol steps live here; the curve, hashes and randomness are @noble's and the
// browser's (audited), never written by hand.
import { ed25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';

const Point = ed25519.Point;
const ORDER = Point.Fn.ORDER;

// The crate's blinding points for side A (M) and side B (N), compressed.
const M = Point.fromHex('15cfd18e385952982b6a8f8c7854963b58e34388c8e6dae891db756481a02312');
const N = Point.fromHex('f04f2e7eb734b2a8f8b472eaf9c3c632576ac64aea650b496a8a20ff00e583c3');

export const PHONE_IDENTITY = utf8ToBytes('cabin phone');
export const CAR_IDENTITY = utf8ToBytes('cabin car');

const SIDE_A = 0x41;
const SIDE_B = 0x42;

function bigEndian(bytes) {
  return bytes.reduce((n, byte) => (n << 8n) | BigInt(byte), 0n);
}

/** The password as a scalar: 48 bytes of HKDF-SHA256 ("SPAKE2 pw"), big-endian, mod the order. */
export function passwordScalar(password) {
  return bigEndian(hkdf(sha256, password, new Uint8Array(0), utf8ToBytes('SPAKE2 pw'), 48)) % ORDER;
}

function randomScalar() {
  for (;;) {
    const scalar = bigEndian(randomBytes(64)) % ORDER;
    if (scalar !== 0n) return scalar;
  }
}

/**
 * Starts the phone's side with the code the owner typed. Returns the state and the message for the
 * car, as hex (the side byte 'A' and a compressed point).
 */
export function startPhone(code, secret = randomScalar()) {
  const password = utf8ToBytes(code.trim());
  const pw = passwordScalar(password);
  const element = Point.BASE.multiply(secret).add(M.multiply(pw)).toBytes();
  const state = { password, pw, secret, element };
  return { state, message: bytesToHex(concatBytes(Uint8Array.of(SIDE_A), element)) };
}

/** The shared key (32 bytes) from the car's message (hex); throws on a message that is not one. */
export function finishPhone(state, carMessageHex) {
  const message = hexToBytes(carMessageHex);
  if (message.length !== 33 || message[0] !== SIDE_B) throw new Error('not a SPAKE2 message of this protocol');
  const carElement = message.subarray(1);
  const unblinded = Point.fromBytes(carElement).add(N.multiply(ORDER - state.pw));
  const keyElement = unblinded.multiply(state.secret).toBytes();
  return sha256(
    concatBytes(
      sha256(state.password),
      sha256(PHONE_IDENTITY),
      sha256(CAR_IDENTITY),
      state.element,
      carElement,
      keyElement,
    ),
  );
}
