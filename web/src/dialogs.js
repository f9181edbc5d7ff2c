// Every action is confirmed in a modal <dialog>, which the browser makes
// keyboard-accessible (focus moves in, Escape cancels). A refused action
// keeps the dialog open with the API's own message.
import { h } from './dom.js';

// ask shows a form and runs action(form) on confirm. It resolves to the
// action's result, or null when cancelled.
export function ask({ title, body, confirm, danger, action }) {
  return new Promise((resolve) => {
    const error = h('p', { class: 'error', role: 'alert', hidden: true });
    const ok = h('button', { type: 'submit', class: danger ? 'danger' : 'primary', 'data-confirm': '' }, confirm);
    const cancel = h('button', { type: 'button', value: 'cancel' }, 'Cancel');
    const form = h('form', { method: 'dialog' }, h('h2', {}, title), body, error, h('div', { class: 'actions' }, cancel, ok));
    const dlg = h('dialog', { 'aria-label': title }, form);
    let result = null;
    cancel.addEventListener('click', () => dlg.close());
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      ok.disabled = true;
      error.hidden = true;
      try {
        result = await action(form);
        dlg.close();
      } catch (e) {
        error.textContent = e.text || e.message;
        error.hidden = false;
      } finally {
        ok.disabled = false;
      }
    });
    dlg.addEventListener('close', () => { dlg.remove(); resolve(result); });
    document.body.append(dlg);
    dlg.showModal();
  });
}

// showKeyOnce shows a new key's text, the one time the API returns it.
export function showKeyOnce(title, view) {
  return new Promise((resolve) => {
    const text = h('input', { type: 'text', readonly: true, value: view.key, 'aria-label': 'The new key', id: 'new-key', class: 'keytext' });
    const copied = h('span', { role: 'status', class: 'muted' });
    const copy = h('button', { type: 'button', class: 'primary' }, 'Copy');
    copy.addEventListener('click', async () => {
      text.select();
      try {
        await navigator.clipboard.writeText(view.key);
        copied.textContent = 'Copied.';
      } catch {
        copied.textContent = 'Selected: press Ctrl+C (or ⌘C) to copy.';
      }
    });
    const done = h('button', { type: 'button' }, 'I have stored it');
    const dlg = h('dialog', { 'aria-label': title },
      h('h2', {}, title),
      h('p', { class: 'warning', role: 'alert' }, 'This is the only time the key is shown. Store it now: it cannot be shown again, only rotated.'),
      h('p', {}, `Key ${view.name} (${view.kid}):`),
      h('div', { class: 'row' }, text, copy), copied,
      h('div', { class: 'actions' }, done));
    done.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => { text.value = ''; dlg.remove(); resolve(); });
    document.body.append(dlg);
    dlg.showModal();
    text.select();
  });
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('small', { class: 'muted' }, hint) : null);
}

const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const num = (s) => (s.trim() === '' ? 0 : Number(s));

// keyForm is the fields of a key's settings, for create and edit; read()
// returns them as the API takes them.
export function keyForm(k) {
  const l = (k && k.limits) || {};
  const name = h('input', { name: 'name', required: true, maxlength: 100, value: (k && k.name) || '' });
  const models = h('input', { name: 'models', value: ((k && k.models) || []).join(', '), placeholder: 'any model' });
  const providers = h('input', { name: 'providers', value: ((k && k.providers) || []).join(', '), placeholder: 'any provider' });
  const lim = (n, v) => h('input', { name: n, type: 'number', min: 0, step: 1, value: v || '', placeholder: 'none' });
  const rpm = lim('rpm', l.requests_per_minute), rpd = lim('rpd', l.requests_per_day), rpmo = lim('rpmo', l.requests_per_month);
  return {
    fields: [
      field('Name', name),
      field('Allowed models', models, 'Comma-separated, e.g. openai/gpt-4o-mini. Empty allows every model.'),
      field('Allowed providers', providers, 'Comma-separated, e.g. openai. Empty allows every provider.'),
      h('fieldset', {}, h('legend', {}, 'Request limits (0 or empty: none)'),
        field('Per minute', rpm), field('Per day', rpd), field('Per month', rpmo)),
    ],
    read: () => ({
      name: name.value.trim(), models: list(models.value), providers: list(providers.value),
      limits: { requests_per_minute: num(rpm.value), requests_per_day: num(rpd.value), requests_per_month: num(rpmo.value) },
    }),
  };
}
