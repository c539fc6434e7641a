// The console's only way to the platform: the public /v2 API, the key in X-Api-Key.
// Errors are RFC 9457 problem+json; ApiError carries their fields so views can show `detail`.

const KEY_STORAGE = "telemetry.console.apiKey";

export class ApiError extends Error {
  constructor(status, problem) {
    const title = problem.title || `HTTP ${status}`;
    super(problem.detail ? `${title}: ${problem.detail}` : title);
    this.status = status;
    this.problem = problem;
    this.title = title;
    this.detail = problem.detail || "";
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

// The key lives in sessionStorage: this tab only, gone when it closes; never localStorage or a cookie.
export const session = {
  get key() {
    return sessionStorage.getItem(KEY_STORAGE);
  },
  signIn(key) {
    sessionStorage.setItem(KEY_STORAGE, key);
  },
  signOut() {
    sessionStorage.removeItem(KEY_STORAGE);
  },
};

export class Api {
  constructor(baseUrl) {
    this.baseUrl = (baseUrl || "").replace(/\/+$/, "");
  }

  url(path, params) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== undefined && value !== null && value !== "") query.set(name, String(value));
    }
    const qs = query.toString();
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ""}`;
  }

  async request(method, path, { params, body, rawBody, key } = {}) {
    const headers = { Accept: "application/json, application/problem+json" };
    const apiKey = key ?? session.key;
    if (apiKey) headers["X-Api-Key"] = apiKey;
    let payload;
    if (rawBody !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = rawBody;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(this.url(path, params), { method, headers, body: payload, credentials: "omit" });
    } catch (err) {
      throw new ApiError(0, { title: "Network error", detail: `The API at ${this.baseUrl || location.origin} did not answer (${err.message}).` });
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = { title: `HTTP ${response.status}`, detail: text.slice(0, 300) };
      }
    }
    if (!response.ok) {
      throw new ApiError(response.status, data && typeof data === "object" ? data : {});
    }
    return data;
  }

  get(path, params) {
    return this.request("GET", path, { params });
  }

  // Every item of a paginated list, following continuationToken (at most `limit` items).
  async all(path, params = {}, limit = 5000) {
    const items = [];
    let token;
    do {
      const page = await this.get(path, { pageLimit: 500, ...params, continuationToken: token });
      items.push(...(page.items || []));
      token = page.continuationToken;
    } while (token && items.length < limit);
    return items;
  }
}
