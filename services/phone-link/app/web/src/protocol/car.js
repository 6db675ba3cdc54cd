// One car, reached through its MQTT 5 broker over WebSocket: pairing, signed requests with
// resend, the retained status and the event feed. Knows nothing of the page.
// mqtt.js takes binary payloads and properties as Buffers (the `buffer` package in a browser).
import { Buffer } from 'buffer';
import mqtt from 'mqtt';
import { bytesToHex, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { finishPhone, startPhone } from './spake2.js';
import { phoneProof, requestKey, signRequest, verifyCarProof, verifyHandoff, verifyResponse } from './auth.js';

export const VERSION = 1;
export const MAC_PROPERTY = 'cabin-mac';
const RESEND_MS = 2500;
const GIVE_UP_MS = 10000;
const WEEK_S = 7 * 24 * 3600;

export const randomHex = (bytes) => bytesToHex(randomBytes(bytes));

/** An answer the car gave as an error: `kind` is the protocol's (Refused, Forbidden, ...). */
export class CarError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

export function topics(vehicle) {
  const root = `cabin/v1/${vehicle}`;
  return {
    pair: `${root}/pair`,
    requests: `${root}/requests`,
    status: `${root}/status`,
    events: `${root}/events`,
    responses: (phone) => `${root}/responses/${phone}`,
    pairingResponses: (pairing) => `${root}/responses/pairing-${pairing}`,
  };
}

/**
 * A connection to one car's broker. `session` names a session the broker keeps for a week, so
 * events published while the phone was away arrive when it is back; without it the session is
 * thrown away. Calls `onState('connected' | 'unreachable', reason)` as the link comes and goes.
 */
export class CarLink {
  constructor({ broker, vehicle, session, onState = () => {} }) {
    this.topics = topics(vehicle);
    this.waiters = new Map();
    this.handlers = new Map();
    this.subscribed = new Set();
    this.client = mqtt.connect(broker, {
      protocolVersion: 5,
      clientId: session ? `cabin-app-${session}` : `cabin-app-${randomHex(6)}`,
      clean: !session,
      properties: { sessionExpiryInterval: session ? WEEK_S : 0, maximumPacketSize: 1024 * 1024 },
      reconnectPeriod: 1000,
      connectTimeout: 5000,
    });
    this.client.on('connect', () => onState('connected'));
    this.client.on('close', () => onState('unreachable', 'cannot reach the broker'));
    this.client.on('error', (error) => onState('unreachable', error.message));
    this.client.on('message', (topic, payload, packet) => this.#route(topic, payload, packet));
  }

  #route(topic, payload, packet) {
    const properties = packet.properties || {};
    const correlation = properties.correlationData ? new TextDecoder().decode(properties.correlationData) : null;
    const waiter = correlation && this.waiters.get(correlation);
    if (waiter) {
      this.waiters.delete(correlation);
      waiter({ payload: new Uint8Array(payload), mac: (properties.userProperties || {})[MAC_PROPERTY] });
      return;
    }
    const handler = this.handlers.get(topic);
    if (handler) handler(new Uint8Array(payload), packet);
  }

  /**
   * Calls `onHandOff(handoff)` for every hand-off the car sends this phone, signed with its key;
   * anything else on its topic that is not an answer is dropped.
   */
  listenForHandOffs(paired, onHandOff) {
    return this.listen(this.topics.responses(paired.phone), (payload, packet) => {
      const mac = ((packet.properties || {}).userProperties || {})[MAC_PROPERTY];
      let handoff;
      try {
        handoff = JSON.parse(new TextDecoder().decode(payload));
      } catch {
        return;
      }
      if (typeof handoff.handoff === 'string' && verifyHandoff(paired.key, handoff.handoff, payload, mac)) onHandOff(handoff);
    });
  }

  /** Calls `handler(payloadBytes, packet)` for every message on `topic`, from now on. */
  listen(topic, handler) {
    this.handlers.set(topic, handler);
    return this.#subscribe(topic);
  }

  async #subscribe(topic) {
    if (this.subscribed.has(topic)) return;
    await this.client.subscribeAsync(topic, { qos: 1 });
    this.subscribed.add(topic);
  }

  close() {
    this.client.end(true);
  }

  /** Publishes `payload` (bytes) and waits for the answer with the same correlation data. */
  async #exchange(topic, responseTopic, payload, userProperties) {
    const correlation = randomHex(8);
    const answer = new Promise((resolve) => this.waiters.set(correlation, resolve));
    const properties = { responseTopic, correlationData: Buffer.from(correlation) };
    // mqtt.js never sends a packet with an empty user property list.
    if (userProperties) properties.userProperties = userProperties;
    const options = { qos: 1, properties };
    const started = Date.now();
    for (;;) {
      this.client.publish(topic, Buffer.from(payload), options);
      const timeout = new Promise((resolve) => setTimeout(() => resolve(null), RESEND_MS));
      const got = await Promise.race([answer, timeout]);
      if (got) return got;
      if (Date.now() - started + RESEND_MS > GIVE_UP_MS) {
        this.waiters.delete(correlation);
        throw new CarError('Unreachable', 'The car did not answer.');
      }
    }
  }

  /** Pairs with the code the car shows; returns what the phone keeps: {phone, key, scopes}. */
  async pair(code, name) {
    const pairing = randomHex(8);
    const responses = this.topics.pairingResponses(pairing);
    await this.client.subscribeAsync(responses, { qos: 1 });
    try {
      const { state, message } = startPhone(code);
      const first = await this.#pairStep(responses, { v: VERSION, pairing, step: 'start', name, spake2: message });
      const key = finishPhone(state, first.spake2);
      const last = await this.#pairStep(responses, { v: VERSION, pairing, step: 'confirm', proof: phoneProof(key, pairing) });
      if (!verifyCarProof(key, pairing, last.proof)) throw new CarError('PairingRefused', 'The car could not prove it knows the code.');
      return { phone: last.phone, key: requestKey(key), scopes: last.scopes };
    } finally {
      this.client.unsubscribe(responses);
    }
  }

  async #pairStep(responses, message) {
    const { payload } = await this.#exchange(this.topics.pair, responses, utf8ToBytes(JSON.stringify(message)));
    return resultOf(JSON.parse(new TextDecoder().decode(payload)));
  }

  /** Sends a signed request of `kind` with `fields`; resolves with the car's signed result. */
  async request(paired, kind, fields = {}) {
    const id = randomHex(8);
    const body = { v: VERSION, id, phone: paired.phone, nonce: randomHex(12), ts: Math.floor(Date.now() / 1000), kind, ...fields };
    const payload = utf8ToBytes(JSON.stringify(body));
    const responseTopic = this.topics.responses(paired.phone);
    await this.#subscribe(responseTopic);
    const mac = signRequest(paired.key, responseTopic, payload);
    const answer = await this.#exchange(this.topics.requests, responseTopic, payload, { [MAC_PROPERTY]: mac });
    const response = JSON.parse(new TextDecoder().decode(answer.payload));
    if (response.result !== undefined && !verifyResponse(paired.key, id, answer.payload, answer.mac)) {
      throw new CarError('Unauthorized', 'An answer came back that the car did not sign.');
    }
    return resultOf(response);
  }
}

function resultOf(response) {
  if (response.error) throw new CarError(response.error.kind, response.error.message);
  return response.result;
}
