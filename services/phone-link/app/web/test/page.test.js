import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromPairingLink } from '../src/pairing-link.js';
import { describeEvent, statusLine } from '../src/words.js';

test('the QR code link gives the code and the car; its MQTT broker is not a WebSocket one', () => {
  assert.deepEqual(fromPairingLink('cabin://pair?broker=mqtt://10.0.0.2:1883&vehicle=car-1&code=123456'), {
    code: '123456',
    vehicle: 'car-1',
    broker: null,
  });
  assert.equal(fromPairingLink('cabin://pair?broker=wss://car.example/mqtt&vehicle=car-1&code=1').broker, 'wss://car.example/mqtt');
  assert.equal(fromPairingLink('123456'), null);
});

test('the link line says which side is unreachable', () => {
  assert.match(statusLine({ brokerUp: false, reason: 'connection refused' }, 'Ana').text, /^Broker unreachable/);
  assert.match(statusLine({ brokerUp: true, online: false, lastSeen: 1764800000 }, 'Ana').text, /^Ana is unreachable; last seen /);
  assert.equal(statusLine({ brokerUp: true, online: true }, 'Ana').text, 'Ana is online');
});

test('a left-behind event names the object and the seat', () => {
  assert.equal(
    describeEvent({ kind: 'left_behind', object: 'cat', region: 'rear_left', confidence: 0.83 }),
    'Left behind: a cat on the rear left seat (83 % sure)',
  );
  assert.equal(describeEvent({ kind: 'left_behind', object: 'bag', region: '', confidence: 0.5 }), 'Left behind: a bag in the car (50 % sure)');
  assert.equal(
    describeEvent({ kind: 'person_inside', region: 'rear_right', confidence: 0.9 }),
    'Someone is inside the locked car, on the rear right seat (90 % sure)',
  );
});
