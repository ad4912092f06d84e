// The sign-in page: POST /login sets the HttpOnly cookie every later request carries.

import {api} from './api.js';
import {h, say} from './dom.js';

export function render(main, {onSignedIn}) {
  const email = h('input', {id: 'email', name: 'email', type: 'email', autocomplete: 'username', required: true});
  const password = h('input', {id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true});
  const submit = h('button', {type: 'submit'}, 'Sign in');
  const form = h('form', {class: 'signin', 'aria-labelledby': 'signin-title'},
    h('h1', {id: 'signin-title'}, 'Sign in'),
    h('p', {}, 'Sign in with your ordersaga account. An admin sees every order; a user sees their own.'),
    h('label', {for: 'email'}, 'Email'), email,
    h('label', {for: 'password'}, 'Password'), password,
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    say('Signing in…');
    try {
      await api('/login', {method: 'POST', body: {email: email.value, password: password.value}});
      const me = await api('/me');
      say(`Signed in as ${me.email}.`);
      onSignedIn(me);
    } catch (err) {
      say(`Sign-in failed: ${err.message}`, 'error');
      password.select();
    } finally {
      submit.disabled = false;
    }
  });
  main.append(form);
  email.focus();
}
