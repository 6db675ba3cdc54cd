// One car, reached through its MQTT 5 broker over WebSocket: pairing, signed requests with
// resend, the retained status and the event feed. Knows nothing of the page.
// mqtt.js takes binary payloads and properties as Buffers (the `buffer` package in a browser).
import { Buffer } from 'buffer';
import mqtt from 'mqtt';
import { bytesToHex, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { finishPhone, startPhone } from './spake2.js';
import { phoneProof, requestKey, signRequest, verifyCarProof, verifyHandoff, verifyNotice, verifyResponse } from './auth.js';

export const VERSION = 1;
export const MAC_PROPERTY = 'cabin-mac';
/** What the car says to all its phones carries one MAC each, in `cabin-mac:<phone id>`. */
export const NOTICE_MAC_PREFIX = 'cabin-mac:';
const RESEND_MS = 2500;
const GIVE_UP_MS = 10000;
// What the car answers before it knows the phone, or can read the request, it cannot sign; anyone
// could send it, so it counts only if nothing signed comes before the deadline, in our words.
const UNSIGNED_WORDS = {
  Unauthorized: 'The car does not know this phone. Was it unpaired?',
  BadRequest: 'The car could not read the request.',
  UnsupportedVersion: 'The car speaks another version of the app’s protocol.',
};
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
    // Every answer goes to its waiter, which judges it: a stranger's may come first.
    const waiter = correlation && this.waiters.get(correlation);
    if (waiter) {
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

  /**
   * Calls `handler(payloadBytes)` for what the car says to all its phones on `topic` (status,
   * events), only when it is signed for this phone. The one exception is a status saying the car
   * is offline: its last will, which cannot be signed for phones paired after it was set.
   */
  listenToCar(paired, topic, handler) {
    return this.listen(topic, (payload, packet) => {
      const macs = [].concat(((packet.properties || {}).userProperties || {})[NOTICE_MAC_PREFIX + paired.phone] ?? []);
      if (macs.some((mac) => verifyNotice(paired.key, topic, payload, mac)) || (topic === this.topics.status && saysOffline(payload))) {
        handler(payload);
      }
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

  /**
   * Publishes `payload` (bytes) and waits for the answer with the same correlation data that
   * `accept(answer)` takes: 'take' it, hold it as 'unsigned' (taken only if nothing better comes
   * before the deadline), or 'ignore' it. Sent again every 2.5 s, for up to 10 s.
   */
  async #exchange(topic, responseTopic, payload, userProperties, accept = () => 'take') {
    const correlation = randomHex(8);
    let arrived = () => {};
    const answers = [];
    this.waiters.set(correlation, (answer) => {
      answers.push(answer);
      arrived();
    });
    const properties = { responseTopic, correlationData: Buffer.from(correlation) };
    // mqtt.js never sends a packet with an empty user property list.
    if (userProperties) properties.userProperties = userProperties;
    const options = { qos: 1, properties };
    const giveUp = Date.now() + GIVE_UP_MS;
    let resendAt = 0;
    let unsigned = null;
    try {
      for (;;) {
        const now = Date.now();
        if (now >= giveUp && unsigned) return unsigned;
        if (now >= giveUp) throw new CarError('Unreachable', 'The car did not answer.');
        if (now >= resendAt) {
          this.client.publish(topic, Buffer.from(payload), options);
          resendAt = now + RESEND_MS;
        }
        const wake = Math.min(giveUp, resendAt) - now;
        if (!answers.length) {
          await new Promise((resolve) => {
            arrived = resolve;
            setTimeout(resolve, wake);
          });
        }
        for (const answer of answers.splice(0)) {
          const verdict = accept(answer);
          if (verdict === 'take') return answer;
          if (verdict === 'unsigned' && !unsigned) unsigned = answer;
        }
      }
    } finally {
      this.waiters.delete(correlation);
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
    // Anyone on the broker can answer on this topic: only the car's signed answer counts, and an
    // unsigned "the car does not know you" only if the car says nothing better.
    const judge = (answer) => {
      const response = parse(answer.payload);
      if (response?.id === id && verifyResponse(paired.key, id, answer.payload, answer.mac)) return 'take';
      return UNSIGNED_WORDS[response?.error?.kind] ? 'unsigned' : 'ignore';
    };
    const answer = await this.#exchange(this.topics.requests, responseTopic, payload, { [MAC_PROPERTY]: mac }, judge);
    const response = parse(answer.payload);
    if (!verifyResponse(paired.key, id, answer.payload, answer.mac)) throw new CarError(response.error.kind, UNSIGNED_WORDS[response.error.kind]);
    return resultOf(response);
  }
}

function parse(payload) {
  try {
    return JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return null;
  }
}

function saysOffline(payload) {
  return parse(payload)?.online === false;
}

function resultOf(response) {
  if (!response) throw new CarError('BadAnswer', 'The car sent an answer that cannot be read.');
  if (response.error) throw new CarError(response.error.kind, response.error.message);
  return response.result;
}
