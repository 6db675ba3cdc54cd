// What the page says, from what the car sent.
const SEATS = {
  driver: "driver's seat",
  passenger: "passenger's seat",
  rear_left: 'rear left seat',
  rear_middle: 'rear middle seat',
  rear_right: 'rear right seat',
  rear: 'back seat',
};

export const seatName = (region) => SEATS[region] || region.replaceAll('_', ' ');

/** The link line: the broker, then the car's own retained status. */
/** `lastSeen`: when this phone last heard from the car (unix seconds), if ever. */
export function statusLine({ brokerUp, online, lastSeen, reason }, name) {
  const seen = lastSeen ? `; last seen ${new Date(lastSeen * 1000).toLocaleString()}` : '';
  if (!brokerUp) return { text: `Broker unreachable: ${name} cannot be asked (${reason || 'connecting'})${seen}`, bad: true };
  if (online === false) return { text: `${name} is unreachable${seen}`, bad: true };
  if (online === true) return { text: `${name} is online`, bad: false };
  return { text: `Connected; waiting to hear from ${name}`, bad: false };
}

export function describeEvent(event) {
  switch (event.kind) {
    case 'left_behind': {
      const where = event.region ? `on the ${seatName(event.region)}` : 'in the car';
      return `Left behind: a ${event.object} ${where} (${Math.round(event.confidence * 100)} % sure)`;
    }
    case 'person_inside': {
      const where = event.region ? `on the ${seatName(event.region)}` : 'in the car';
      return `Someone is inside the locked car, ${where} (${Math.round(event.confidence * 100)} % sure)`;
    }
    case 'reminder':
      return `Parked. Your reminder: ${event.text}`;
    default:
      return `The car says: ${event.kind}`;
  }
}
