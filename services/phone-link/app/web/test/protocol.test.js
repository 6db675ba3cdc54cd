// The app's protocol pieces against values computed apart (Python's hmac and hashlib); pairing
// with the car itself is tested in a browser (tests/phone_app.rs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { passwordScalar, startPhone, finishPhone } from '../src/protocol/spake2.js';
import { signRequest, verifyNotice, verifyResponse, mac } from '../src/protocol/auth.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

test('the code becomes the scalar the car derives from it', () => {
  assert.equal(passwordScalar(utf8ToBytes('123456')), 2068500508171551459763435228377381679810713647176111590801746788672287807293n);
});

test('a request MAC covers the response topic and the payload, length-prefixed', () => {
  const key = '07'.repeat(32);
  const payload = utf8ToBytes('{"id":"r1"}');
  assert.equal(signRequest(key, 'cabin/v1/car/responses/p1', payload), 'ce80444c891128d4244b9ddd277553127a520519178ccd5d8820a02e55e6f808');
  assert.notEqual(signRequest(key, 'cabin/v1/car/responses/p2', payload), signRequest(key, 'cabin/v1/car/responses/p1', payload));
});

test('an answer is taken only with its own MAC', () => {
  const key = '07'.repeat(32);
  const payload = utf8ToBytes('{"v":1,"id":"r1","result":{}}');
  const good = bytesToHex(mac(Uint8Array.from(Buffer.from(key, 'hex')), 'cabin/v1 response', 'r1', payload));
  assert.ok(verifyResponse(key, 'r1', payload, good));
  assert.ok(!verifyResponse(key, 'r2', payload, good), 'the MAC is for one request id');
  assert.ok(!verifyResponse(key, 'r1', utf8ToBytes('{"v":1,"id":"r1","result":{"x":1}}'), good));
  assert.ok(!verifyResponse(key, 'r1', payload, good.toUpperCase()), 'one spelling per MAC');
  assert.ok(!verifyResponse(key, 'r1', payload, undefined), 'an unsigned answer');
});

test('a status or event is taken only with this phone\'s MAC of it, on its own topic', () => {
  const key = '07'.repeat(32);
  const payload = utf8ToBytes('{"v":1,"id":"e1"}');
  const good = 'c65872d9c1ee11d047529fe7216ba80a2a8195c15d7d6abeff68b182c488f7a0';
  assert.ok(verifyNotice(key, 'cabin/v1/car/events', payload, good));
  assert.ok(!verifyNotice(key, 'cabin/v1/car/status', payload, good), 'the MAC is for one topic');
  assert.ok(!verifyNotice('08'.repeat(32), 'cabin/v1/car/events', payload, good), "another phone's key");
  assert.ok(!verifyNotice(key, 'cabin/v1/car/events', utf8ToBytes('{"v":1,"id":"e2"}'), good));
  assert.ok(!verifyNotice(key, 'cabin/v1/car/events', payload, undefined), 'an unsigned event');
});

test("the phone's SPAKE2 message is side A and a point; a wrong answer is refused", () => {
  const { state, message } = startPhone(' 123456 ');
  assert.match(message, /^41[0-9a-f]{64}$/);
  assert.throws(() => finishPhone(state, message), /not a SPAKE2 message/, 'its own message is not the car’s');
  assert.throws(() => finishPhone(state, '42'), /not a SPAKE2 message/);
});
