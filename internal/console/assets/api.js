// The REST API of the gateway, same origin: the login cookie goes with every request.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// api calls path and returns its JSON (null for an empty body); a non-2xx answer throws an
// ApiError with the server's {"error"} message.
export async function api(path, {method = 'GET', body} = {}) {
  const init = {method, credentials: 'same-origin', headers: {Accept: 'application/json'}};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, `cannot reach the gateway (${e.message})`);
  }
  const text = await res.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!res.ok) {
    throw new ApiError(res.status, (json && json.error) || `${res.status} ${res.statusText}`);
  }
  return json;
}
