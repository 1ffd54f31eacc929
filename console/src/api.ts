// A small client for the /v1 API: the bearer token on every call, problem+json errors
// turned into messages a person can act on.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class Api {
  constructor(readonly token: string) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { Authorization: `Bearer ${this.token}`, ...extra };
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers: this.headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch {
      throw new ApiError(0, 'the service cannot be reached');
    }
    if (!response.ok) {
      let detail = `${response.status} ${response.statusText}`;
      try {
        const problem = (await response.json()) as { detail?: string; title?: string };
        detail = problem.detail ?? problem.title ?? detail;
      } catch {
        // Not a problem document: keep the status line.
      }
      throw new ApiError(response.status, detail);
    }
    if (response.status === 204) {
      return undefined as T;
    }
    return (await response.json()) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** Every item of a list the service pages as `{[key]: [...], next_after}` (intents,
   * conflicts), following `next_after` from the first page of `path` (which has a query). */
  async allPages<T>(path: string, key: string): Promise<T[]> {
    const items: T[] = [];
    let after: string | null = null;
    do {
      const query: string = after === null ? '' : `&after=${encodeURIComponent(after)}`;
      const page = await this.get<Record<string, unknown>>(`${path}${query}`);
      items.push(...((page[key] as T[] | undefined) ?? []));
      after = (page.next_after as string | null | undefined) ?? null;
    } while (after !== null);
    return items;
  }

  /** Every item of a list the service answers as a bare array, oldest first, a page of
   * `limit` at a time (the hotline): asks again after the last id while pages are full. */
  async allAfter<T extends { id: string }>(path: string, limit: number): Promise<T[]> {
    const items: T[] = [];
    for (;;) {
      const last = items.at(-1);
      const query = last === undefined ? '' : `&after=${encodeURIComponent(last.id)}`;
      const page = await this.get<T[]>(`${path}?limit=${limit}${query}`);
      items.push(...page);
      if (page.length < limit) {
        return items;
      }
    }
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }
}
