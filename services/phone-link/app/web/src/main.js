// The page: the cars this phone is paired with (kept in this browser's storage), one link to
// the car shown, and what the owner sees and taps. The protocol is in ./protocol/.
import { CarLink, CarError, randomHex } from './protocol/car.js';
import { fromPairingLink } from './pairing-link.js';
import { describeEvent, seatName, statusLine } from './words.js';
import { store } from './store.js';
import { HANDOFF_ACTIONS, carryOut, renderHandoffs } from './handoffs.js';

const $ = (id) => document.getElementById(id);
const STATUS_EVERY_MS = 5000;
// The car keeps a hand-off waiting for a day (PROTOCOL.md); with an hour for clocks that differ.
const HANDOFF_KEPT_S = 25 * 3600;
const SIGNALS = {
  locked: 'Vehicle.Cabin.Door.Row1.DriverSide.IsLocked',
  inside: 'Vehicle.Cabin.HVAC.AmbientAirTemperature',
  fuel: 'Vehicle.Powertrain.FuelSystem.RelativeLevel',
  range: 'Vehicle.Powertrain.Range',
};
const DOORS = ['Row1.DriverSide', 'Row1.PassengerSide', 'Row2.DriverSide', 'Row2.PassengerSide'].map(
  (door) => `Vehicle.Cabin.Door.${door}.IsLocked`,
);
const CLIMATE = ['Row1.Driver', 'Row1.Passenger'].map((seat) => `Vehicle.Cabin.HVAC.Station.${seat}.Temperature`);


let car = null; // { paired, link, status }
let statusTimer = null;

function show(section) {
  $('pair').hidden = section !== 'pair';
  $('car').hidden = section !== 'car';
}

function setLinkState(text, bad) {
  $('link-state').textContent = text;
  $('link-state').classList.toggle('bad', Boolean(bad));
}

async function thisCarHint() {
  try {
    const response = await fetch('car.json', { cache: 'no-store' });
    if (!response.ok) return null;
    const hint = await response.json();
    return { vehicle: hint.vehicle, broker: webSocketUrl(hint.broker) };
  } catch {
    return null;
  }
}

function webSocketUrl(path) {
  const url = new URL(path, location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

async function openPairing() {
  show('pair');
  $('pair-cancel').hidden = store.cars().length === 0;
  const hint = await thisCarHint();
  if (hint) {
    $('pair-vehicle').value ||= hint.vehicle;
    $('pair-broker').value ||= hint.broker;
  }
  $('pair-code').focus();
}

async function pair(event) {
  event.preventDefault();
  await pairWith(event.submitter, {
    code: $('pair-code').value.trim(),
    vehicle: $('pair-vehicle').value.trim(),
    broker: $('pair-broker').value.trim(),
  });
}

/** Pairs with the car the typed fields, a pasted link or a scanned QR code name. */
async function pairWith(button, typed) {
  $('pair-error').textContent = '';
  let { code, vehicle, broker } = typed;
  const link = fromPairingLink(code);
  if (link) ({ code, vehicle, broker } = { code: link.code, vehicle: link.vehicle || vehicle, broker: link.broker || broker });
  if (!/^\d{6}$/.test(code)) {
    $('pair-error').textContent = 'The code is the six digits the car shows.';
    return;
  }
  button.disabled = true;
  setLinkState('Pairing…');
  const pairingLink = new CarLink({ broker, vehicle, onState: () => {} });
  try {
    const paired = await pairingLink.pair(code, $('pair-phone-name').value.trim() || 'Phone');
    const name = $('pair-car-name').value.trim() || vehicle;
    const cars = store.cars().filter((c) => c.vehicle !== vehicle);
    cars.push({ vehicle, broker, name, ...paired, session: randomHex(12) });
    store.saveCars(cars);
    store.setCurrent(vehicle);
    $('pair-form').reset();
    await openCar();
  } catch (error) {
    $('pair-error').textContent = error instanceof CarError ? error.message : `Pairing failed: ${error.message}`;
    setLinkState('Not paired');
  } finally {
    pairingLink.close();
    button.disabled = false;
  }
}

let scanning = null;

function offerScanning() {
  if (!navigator.mediaDevices?.getUserMedia) return;
  $('scan').hidden = false;
  $('scan').addEventListener('click', scan);
  $('scan-stop').addEventListener('click', stopScanning);
}

async function scan() {
  $('scan-state').textContent = 'Point the camera at the QR code the car shows.';
  $('scanner').hidden = false;
  $('scan').hidden = true;
  let link;
  try {
    // The QR reader (jsQR) is fetched only when the owner scans, so the app opens lighter.
    const { scanPairingLink } = await import('./scanner.js');
    scanning = scanPairingLink($('scan-video'));
    link = await scanning.found;
  } catch (error) {
    $('scan-state').textContent = `The camera could not start: ${error.message}`;
  }
  stopScanning();
  if (!link) return;
  $('scan-state').textContent = `Read the code for ${link.vehicle || 'the car'}.`;
  const hint = await thisCarHint();
  await pairWith($('pair-form').querySelector('button[type=submit]'), {
    code: link.code,
    vehicle: link.vehicle || $('pair-vehicle').value.trim() || hint?.vehicle || '',
    broker: link.broker || $('pair-broker').value.trim() || hint?.broker || '',
  });
}

function stopScanning() {
  scanning?.stop();
  scanning = null;
  $('scanner').hidden = true;
  $('scan').hidden = false;
}

function carChoices() {
  const cars = store.cars();
  const select = $('car-select');
  select.replaceChildren(...cars.map((c) => new Option(c.name, c.vehicle, false, c.vehicle === store.current())));
  document.querySelector('.car-choice').hidden = cars.length < 2;
}

async function openCar() {
  const cars = store.cars();
  const paired = cars.find((c) => c.vehicle === store.current()) || cars[0];
  if (!paired) return openPairing();
  if (car) {
    car.link.close();
    clearInterval(statusTimer);
  }
  // The broker keeps this phone's session under a name no one else knows. Under the phone's id,
  // which every request shows, a stranger could take the session over and what waits in it.
  if (!paired.session) {
    paired.session = randomHex(12);
    store.saveCars(cars.map((c) => (c.vehicle === paired.vehicle ? paired : c)));
  }
  store.setCurrent(paired.vehicle);
  carChoices();
  show('car');
  for (const element of document.querySelectorAll('[data-scope]')) element.hidden = !paired.scopes.includes(element.dataset.scope);
  $('controls').hidden = !paired.scopes.some((s) => s === 'access' || s === 'comfort');
  $('send').hidden = !paired.scopes.some((s) => s === 'ask' || s === 'comfort');
  $('home').hidden = false;
  renderFeed(paired.vehicle);
  const status = { brokerUp: false, online: null };
  // One session per phone and car, kept by the broker: events sent while the app was closed
  // wait there and arrive now.
  const link = new CarLink({
    broker: paired.broker,
    vehicle: paired.vehicle,
    session: paired.session,
    onState: (state, reason) => {
      status.brokerUp = state === 'connected';
      status.reason = reason;
      showLinkState(status);
      if (status.brokerUp) refreshStatus();
    },
  });
  car = { paired, link, status };
  setLinkState(`Connecting to ${paired.name}…`);
  link.listenToCar(paired, link.topics.status, (payload) => {
    const retained = JSON.parse(new TextDecoder().decode(payload));
    status.online = retained.online;
    if (retained.online) store.sawCar(paired.vehicle);
    showLinkState(status);
  });
  link.listenToCar(paired, link.topics.events, (payload) => onEvent(paired.vehicle, payload));
  link.listenForHandOffs(paired, (handoff) => onHandOff(paired.vehicle, handoff));
  renderHandoffs(paired.vehicle);
  statusTimer = setInterval(refreshStatus, STATUS_EVERY_MS);
}

function showLinkState(status) {
  const { text, bad } = statusLine({ ...status, lastSeen: store.lastSeen(car.paired.vehicle) }, car.paired.name);
  setLinkState(text, bad);
  $('status-online').textContent = text;
}

async function refreshStatus() {
  if (!car || !car.status.brokerUp || car.status.online === false || document.hidden) return;
  if (!car.paired.scopes.includes('read')) return;
  const { paired, link } = car;
  remindIfParked();
  await Promise.all(
    Object.entries(SIGNALS).map(async ([what, path]) => {
      try {
        const { value } = await link.request(paired, 'signals.get', { path });
        store.sawCar(paired.vehicle);
        $(`status-${what}`).textContent = formatSignal(what, value);
      } catch (error) {
        $(`status-${what}`).textContent = error.kind === 'Unreachable' ? '–' : error.message;
      }
    }),
  );
}

function formatSignal(what, value) {
  if (value === null || value === undefined) return 'not reported';
  switch (what) {
    case 'locked': return value ? 'Locked' : 'Unlocked';
    case 'inside': return `${Number(value).toFixed(1)} °C`;
    case 'fuel': return `${Math.round(Number(value))} %`;
    case 'range': return `${Math.round(Number(value) / 1000)} km`;
    default: return String(value);
  }
}

async function control(event) {
  const button = event.target.closest('button[data-action]');
  if (!button || !car) return;
  const { paired, link } = car;
  const changes = {
    lock: DOORS.map((path) => ({ path, value: true })),
    unlock: DOORS.map((path) => ({ path, value: false })),
    warm: CLIMATE.map((path) => ({ path, value: 22 })),
    cool: CLIMATE.map((path) => ({ path, value: 19 })),
  }[button.dataset.action];
  const result = $('control-result');
  result.className = '';
  result.textContent = 'Asking the car…';
  try {
    for (const change of changes) await link.request(paired, 'signals.set', change);
    result.className = 'done';
    result.textContent = `${button.textContent}: done.`;
    refreshStatus();
  } catch (error) {
    result.className = 'refused';
    result.textContent = `${button.textContent}: ${error.message}`;
  }
}

/** "Send to car": a destination for the navigation, or a note the car reads to the driver. */
async function send(event) {
  event.preventDefault();
  if (!car) return;
  const form = event.target;
  const input = form.querySelector('input');
  const text = input.value.trim();
  if (!text) return;
  const [kind, fields] = form.id === 'send-destination-form' ? ['send.destination', { destination: text }] : ['send.note', { text }];
  const result = $('send-result');
  result.className = '';
  result.textContent = 'Sending…';
  try {
    const { car_says: says } = await car.link.request(car.paired, kind, fields);
    result.className = 'done';
    result.textContent = `Sent. The car says: ${says}`;
    input.value = '';
  } catch (error) {
    result.className = 'refused';
    result.textContent = error.message;
  }
}

async function ask(event) {
  event.preventDefault();
  const text = $('ask-text').value.trim();
  if (!text || !car) return;
  $('ask-reply').className = '';
  $('ask-reply').textContent = 'Asking…';
  $('ask-done').replaceChildren();
  try {
    const { reply, turn } = await car.link.request(car.paired, 'ask', { text });
    $('ask-reply').textContent = reply;
    const actions = (turn && turn.actions) || [];
    $('ask-done').replaceChildren(
      ...actions.map((action) => {
        const item = document.createElement('li');
        const value = action.value === undefined ? '' : ` → ${JSON.stringify(action.value)}`;
        item.textContent = `${action.kind} ${action.target}${value}${action.error ? ` (not done: ${action.error})` : ''}`;
        return item;
      }),
    );
  } catch (error) {
    $('ask-reply').className = 'refused';
    $('ask-reply').textContent = error.message;
  }
}

function listen() {
  const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
  if (!Recognition) return;
  const mic = $('ask-mic');
  mic.hidden = false;
  mic.addEventListener('click', () => {
    const recognition = new Recognition();
    recognition.lang = navigator.language || 'en-US';
    recognition.onresult = (event) => {
      $('ask-text').value = event.results[0][0].transcript;
      $('ask-form').requestSubmit();
    };
    recognition.start();
  });
}

function onHandOff(vehicle, handoff) {
  if (!HANDOFF_ACTIONS[handoff.task]) return;
  // A signed hand-off sent again (by anyone on the broker) is not a new one: not one answered,
  // nor one older than the day the car keeps it waiting.
  if (store.answeredHandoffs(vehicle).includes(handoff.handoff) || !(Date.now() / 1000 - handoff.at < HANDOFF_KEPT_S)) return;
  const list = store.handoffs(vehicle);
  if (list.some((h) => h.handoff === handoff.handoff)) return;
  list.unshift(handoff);
  store.saveHandoffs(vehicle, list);
  renderHandoffs(vehicle);
  notify(`Your car asks: ${HANDOFF_ACTIONS[handoff.task].says(handoff)}`);
}

let lastSeen = null;

async function find(event) {
  event.preventDefault();
  const object = $('find-object').value.trim();
  if (!object || !car) return;
  for (const seat of document.querySelectorAll('.seat')) seat.classList.remove('seen');
  $('snapshot').hidden = true;
  $('snapshot-image').hidden = true;
  $('snapshot-reason').textContent = '';
  $('find-answer').className = '';
  $('find-answer').textContent = 'Looking…';
  try {
    const seen = await car.link.request(car.paired, 'vision.find', { object });
    const sure = `${Math.round(seen.confidence * 100)} % sure`;
    if (seen.found) {
      const seat = document.querySelector(`.seat[data-region="${CSS.escape(seen.region || '')}"]`);
      if (seat) seat.classList.add('seen');
      $('find-answer').textContent = seen.region
        ? `Yes: your ${object} is on the ${seatName(seen.region)} (${sure}).`
        : `Yes: your ${object} is in the car (${sure}).`;
      lastSeen = seen.region || null;
      $('snapshot').hidden = false;
    } else {
      $('find-answer').textContent = `I don't see your ${object} in the car (${sure} it is there).`;
    }
  } catch (error) {
    $('find-answer').className = 'refused';
    $('find-answer').textContent = error.message;
  }
}

async function snapshot() {
  const fields = lastSeen ? { region: lastSeen } : {};
  try {
    const { jpeg_base64: jpeg } = await car.link.request(car.paired, 'vision.snapshot', fields);
    $('snapshot-image').src = `data:image/jpeg;base64,${jpeg}`;
    $('snapshot-image').alt = lastSeen ? `The ${seatName(lastSeen)}` : 'The cabin';
    $('snapshot-image').hidden = false;
  } catch (error) {
    $('snapshot-reason').className = 'refused';
    $('snapshot-reason').textContent = `No picture: ${error.message}`;
  }
}

async function answerHandOff(event) {
  const button = event.target.closest('button[data-take], button[data-decline]');
  if (!button || !car) return;
  const vehicle = car.paired.vehicle;
  const id = button.dataset.take || button.dataset.decline;
  const handoff = store.handoffs(vehicle).find((h) => h.handoff === id);
  if (!handoff) return;
  const [outcome, detail] = button.dataset.take ? await carryOut(vehicle, handoff) : ['declined', ''];
  try {
    const { car_says: says } = await car.link.request(car.paired, 'handoff.answer', { handoff: id, outcome, detail });
    $('handoff-result').textContent = `Your car says: ${says}`;
  } catch (error) {
    $('handoff-result').textContent = error.message;
  }
  store.saveHandoffs(vehicle, store.handoffs(vehicle).filter((h) => h.handoff !== id));
  store.saveAnsweredHandoffs(vehicle, [id, ...store.answeredHandoffs(vehicle)]);
  renderHandoffs(vehicle);
}

/** Reminders taken for "when I park" go off once the car says it is not moving. */
async function remindIfParked() {
  const vehicle = car.paired.vehicle;
  const reminders = store.reminders(vehicle);
  if (reminders.length === 0 || !car.paired.scopes.includes('read')) return;
  try {
    const { value: moving } = await car.link.request(car.paired, 'signals.get', { path: 'Vehicle.IsMoving' });
    if (moving !== false) return;
  } catch {
    return;
  }
  store.saveReminders(vehicle, []);
  for (const reminder of reminders) {
    const feed = store.feed(vehicle);
    feed.unshift({ id: `reminder-${reminder.since}`, kind: 'reminder', text: reminder.text, at: Math.floor(Date.now() / 1000) });
    store.saveFeed(vehicle, feed);
    notify(`Parked. Your reminder: ${reminder.text}`);
  }
  renderFeed(vehicle);
}

function onEvent(vehicle, payload) {
  let event;
  try {
    event = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return;
  }
  const feed = store.feed(vehicle);
  // Delivery is at least once: an id seen before is dropped.
  if (!event.id || feed.some((e) => e.id === event.id)) return;
  feed.unshift(event);
  store.saveFeed(vehicle, feed);
  renderFeed(vehicle);
  notify(describeEvent(event));
}

function renderFeed(vehicle) {
  const feed = store.feed(vehicle);
  $('events-empty').hidden = feed.length > 0;
  $('event-feed').replaceChildren(
    ...feed.map((event) => {
      const item = document.createElement('li');
      const at = new Date(event.at * 1000).toLocaleString();
      item.textContent = `${describeEvent(event)} (${at})`;
      return item;
    }),
  );
}

async function notify(text) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  const registration = await navigator.serviceWorker?.getRegistration();
  if (registration) registration.showNotification('Cabin', { body: text, icon: 'icon.svg' });
  else new Notification('Cabin', { body: text });
}

function offerNotifications() {
  if (!('Notification' in window) || Notification.permission !== 'default') return;
  const button = $('notify');
  button.hidden = false;
  button.addEventListener('click', async () => {
    await Notification.requestPermission();
    button.hidden = true;
  });
}

function forgetCar() {
  if (!car) return;
  store.saveCars(store.cars().filter((c) => c.vehicle !== car.paired.vehicle));
  localStorage.removeItem(`cabin.feed.${car.paired.vehicle}`);
  car.link.close();
  car = null;
  localStorage.removeItem('cabin.current');
  openCar();
}

$('pair-form').addEventListener('submit', pair);
$('pair-cancel').addEventListener('click', openCar);
$('add-car').addEventListener('click', openPairing);
$('forget-car').addEventListener('click', forgetCar);
$('car-select').addEventListener('change', (event) => {
  store.setCurrent(event.target.value);
  openCar();
});
$('controls').addEventListener('click', control);
$('handoff-cards').addEventListener('click', answerHandOff);
$('ask-form').addEventListener('submit', ask);
$('send-destination-form').addEventListener('submit', send);
$('send-note-form').addEventListener('submit', send);
$('find-form').addEventListener('submit', find);
$('snapshot').addEventListener('click', snapshot);
document.addEventListener('visibilitychange', refreshStatus);
listen();
offerScanning();
offerNotifications();
if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js').catch(() => {});
openCar();
