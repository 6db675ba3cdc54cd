import { store } from './store.js';

const $ = (id) => document.getElementById(id);

// Hand-offs: the car asks this phone to do something only a phone can. Nothing runs without
// the owner's tap; the answer goes back to the car, which says the outcome to the driver.
export const HANDOFF_ACTIONS = {
  directions: { label: 'Open directions', says: (h) => `Directions to ${h.destination}, for the last stretch on foot.` },
  reminder: { label: 'Remind me when parked', says: (h) => `A reminder for when the car is parked: “${h.text}”.` },
  share: { label: 'Share', says: (h) => `Tell ${h.contact}: “${h.text}”` },
};

export function renderHandoffs(vehicle) {
  const list = store.handoffs(vehicle);
  $('handoffs').hidden = list.length === 0;
  $('handoff-cards').replaceChildren(
    ...list.map((handoff) => {
      const action = HANDOFF_ACTIONS[handoff.task];
      const item = document.createElement('li');
      item.dataset.handoff = handoff.handoff;
      const text = document.createElement('p');
      text.textContent = action.says(handoff);
      const buttons = document.createElement('div');
      buttons.className = 'buttons';
      const take = document.createElement('button');
      take.type = 'button';
      take.dataset.take = handoff.handoff;
      take.textContent = action.label;
      const decline = document.createElement('button');
      decline.type = 'button';
      decline.className = 'secondary';
      decline.dataset.decline = handoff.handoff;
      decline.textContent = 'Not now';
      buttons.append(take, decline);
      item.append(text, buttons);
      return item;
    }),
  );
}

/** Does what the card offers, now that the owner tapped it: [outcome, detail]. */
export async function carryOut(vehicle, handoff) {
  switch (handoff.task) {
    case 'directions': {
      window.open(`https://www.openstreetmap.org/search?query=${encodeURIComponent(handoff.destination)}`, '_blank', 'noopener');
      return ['done', ''];
    }
    case 'reminder': {
      const reminders = store.reminders(vehicle);
      reminders.push({ text: handoff.text, since: Date.now() });
      store.saveReminders(vehicle, reminders);
      return ['done', ''];
    }
    case 'share':
      if (!navigator.share) return ['failed', 'this browser cannot share'];
      try {
        await navigator.share({ title: 'My arrival', text: handoff.text });
        return ['done', ''];
      } catch (error) {
        return error.name === 'AbortError' ? ['declined', ''] : ['failed', error.message];
      }
    default:
      return ['failed', 'this app does not know that task'];
  }
}

