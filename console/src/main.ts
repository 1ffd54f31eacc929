// The console page: sign in with a party's token, then a live map and panels fed by the
// /v1 API (tracks polled every second, everything else by Server-Sent Events, with a full
// refetch after every reconnect).

import './style.css';
import { Api, ApiError } from './api';
import { EventStream, type ConnectionState, type ServerEvent } from './events';
import { escapeHtml, tickCountdowns } from './format';
import { Extent } from './geo';
import { MapView, type TrackView } from './map';
import { agreementPanel, alertsPanel, byUrgency, conflictsPanel, hotlinePanel, intentsPanel, threads } from './panels';
import { ChangesDuringReads, ReadOrder } from './reads';
import type { Agreement, Alert, Conflict, HotlineMessage, Intent, Me, StateVector } from './types';

const TOKEN_KEY = 'deconflict.token';
const TRACK_POLL_MS = 1000;
/** A safety net under the event stream: everything is refetched this often anyway. */
const FULL_REFRESH_MS = 30_000;
const TRAIL_POINTS_MAX = 60;

const app = document.getElementById('app') as HTMLElement;

function takeTokenFromAddress(): string | null {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token');
  if (token !== null) {
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  return token;
}

function showSignIn(message = ''): void {
  app.innerHTML = `<main class="sign-in">
    <h1>deconflict console</h1>
    <form id="sign-in-form">
      <label for="token-input">Party token</label>
      <input id="token-input" name="token" type="password" autocomplete="off" required
        aria-describedby="sign-in-help sign-in-error" />
      <p id="sign-in-help" class="small">Paste the token printed by <code>deconflict party add</code>. It is kept for this tab only.</p>
      <p id="sign-in-error" class="error" role="alert">${escapeHtml(message)}</p>
      <button type="submit">Sign in</button>
    </form>
  </main>`;
  const form = document.getElementById('sign-in-form') as HTMLFormElement;
  const input = document.getElementById('token-input') as HTMLInputElement;
  input.focus();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void signIn(input.value.trim());
  });
}

async function signIn(token: string): Promise<void> {
  if (!token) {
    showSignIn('Paste a token first.');
    return;
  }
  const api = new Api(token);
  try {
    const me = await api.get<Me>('/v1/me');
    sessionStorage.setItem(TOKEN_KEY, token);
    new Console(api, me).start();
  } catch (error) {
    sessionStorage.removeItem(TOKEN_KEY);
    const message =
      error instanceof ApiError && error.status === 401
        ? 'The service does not know that token.'
        : `Cannot sign in: ${error instanceof Error ? error.message : String(error)}`;
    showSignIn(message);
  }
}

function signOut(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  showSignIn('Signed out.');
}

/** Why a live part of the API is missing, or null when it answered. */
function unavailableReason(error: unknown, what: string): string {
  if (error instanceof ApiError && error.status === 404) {
    return `This server does not offer ${what}.`;
  }
  return `${what[0].toUpperCase()}${what.slice(1)} could not be read: ${error instanceof Error ? error.message : String(error)}`;
}

class Console {
  private readonly map: MapView;
  private readonly stream: EventStream;
  private readonly timers: number[] = [];
  private stopped = false;

  private agreement: Agreement | null = null;
  private intents: Intent[] = [];
  private conflicts: Conflict[] = [];
  private alerts = new Map<string, Alert>();
  private alertsUnavailable: string | null = null;
  private readonly agreementReads = new ReadOrder();
  private readonly intentReads = new ReadOrder();
  private readonly conflictReads = new ReadOrder();
  private readonly alertChanges = new ChangesDuringReads<Alert>();
  private messages = new Map<string, HotlineMessage>();
  private readonly messageChanges = new ChangesDuringReads<HotlineMessage>();
  private hotlineUnavailable: string | null = null;
  private tracks = new Map<string, TrackView>();
  private historyRequested = new Set<string>();
  private tracksInFlight = false;
  private tracksForbidden = false;
  private replyTo: HotlineMessage | null = null;

  constructor(
    private readonly api: Api,
    private readonly me: Me,
  ) {
    const observer = me.role === 'observer';
    app.innerHTML = `<div class="layout${observer ? ' observer' : ''}">
      <header class="top">
        <h1>deconflict</h1>
        <span class="who" data-party="${escapeHtml(me.id)}" data-role="${escapeHtml(me.role)}">
          ${escapeHtml(me.name)} (<strong>${escapeHtml(me.id)}</strong>, ${escapeHtml(me.role)}${observer ? ': working-group view, read only' : ''})
        </span>
        <span id="connection" class="connection" role="status" aria-live="polite" data-state="connecting">Connecting…</span>
        <button type="button" id="fit-button" aria-label="Fit the map to what is shown">Fit map</button>
        <button type="button" id="sign-out" aria-label="Sign out of the console">Sign out</button>
      </header>
      <div id="map" class="map" role="region" aria-label="Live map"></div>
      <div class="legend small" aria-label="Map legend">
        <span><span aria-hidden="true">▲</span> own aircraft</span>
        <span><span aria-hidden="true">◆</span> counterpart in alert</span>
        <span><span aria-hidden="true">✕</span> closest approach</span>
        <span><span class="swatch intent" aria-hidden="true"></span> intent (solid)</span>
        <span><span class="swatch conflict" aria-hidden="true"></span> conflict (dashed)</span>
        <span><span class="swatch region" aria-hidden="true"></span> agreement region</span>
        <span>Basemap: Natural Earth</span>
      </div>
      <aside class="panels" aria-label="Panels">
        <section aria-labelledby="alerts-heading"><h2 id="alerts-heading">Alerts <span id="alerts-count" class="count"></span></h2><div id="alerts"></div></section>
        <section aria-labelledby="conflicts-heading"><h2 id="conflicts-heading">Conflicts <span id="conflicts-count" class="count"></span></h2><div id="conflicts"></div></section>
        <section aria-labelledby="hotline-heading"><h2 id="hotline-heading">Hotline <span id="hotline-count" class="count"></span></h2>
          <div id="hotline"></div>
          ${observer ? '' : this.composeForm()}
        </section>
        <section aria-labelledby="agreement-heading"><h2 id="agreement-heading">Agreement <span id="agreement-count" class="count"></span></h2><div id="agreement"></div></section>
        ${observer ? '' : '<section aria-labelledby="intents-heading"><h2 id="intents-heading">Intents</h2><div id="intents"></div></section>'}
        <p id="notice" class="notice" role="alert"></p>
        <p id="announcer" class="visually-hidden" role="status" aria-live="assertive"></p>
      </aside>
    </div>`;
    this.map = new MapView(document.getElementById('map') as HTMLElement);
    this.stream = new EventStream({
      url: '/v1/events',
      token: api.token,
      onEvent: (event) => this.onEvent(event),
      onState: (state, retryInS) => this.onConnection(state, retryInS),
      // Also on the first opening: the lists read by start() may predate an event
      // published before the stream was subscribed (a message escalating while the page
      // loads), which the stream does not replay.
      onOpened: () => void this.refreshAll(),
    });
    document.getElementById('sign-out')?.addEventListener('click', () => {
      this.stop();
      signOut();
    });
    document.getElementById('fit-button')?.addEventListener('click', () => this.fitAll());
    app.addEventListener('click', (event) => this.onClick(event));
    const intentsElement = document.getElementById('intents');
    for (const kind of ['focusin', 'mouseover'] as const) {
      intentsElement?.addEventListener(kind, (event) => {
        const item = (event.target as HTMLElement).closest<HTMLElement>('[data-intent-item]');
        this.map.focusIntent(item?.dataset.intentItem ?? null);
      });
    }
    intentsElement?.addEventListener('mouseleave', () => this.map.focusIntent(null));
    document.getElementById('compose-form')?.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.send();
    });
    document.getElementById('compose-cancel-reply')?.addEventListener('click', () => this.setReply(null));
    // The console is tested and used through this handle: the map and the stream.
    (window as unknown as { deconflictConsole: Console }).deconflictConsole = this;
  }

  start(): void {
    this.stream.start();
    // The first view shows everything there is; later arrivals only move an empty map.
    void this.refreshAll().then(() => this.fitAll());
    this.timers.push(window.setInterval(() => void this.pollTracks(), TRACK_POLL_MS));
    this.timers.push(window.setInterval(() => void this.refreshAll(), FULL_REFRESH_MS));
    this.timers.push(
      window.setInterval(() => {
        tickCountdowns(app, Date.now());
        this.renderAlertsOnMap();
      }, 1000),
    );
  }

  stop(): void {
    this.stopped = true;
    this.stream.stop();
    for (const timer of this.timers) {
      window.clearInterval(timer);
    }
    this.map.remove();
  }

  /** Drops the event stream so it reconnects (used by tests of the reconnecting state). */
  reconnectEvents(): void {
    this.stream.reconnectNow();
  }

  private composeForm(): string {
    return `<details id="compose-box" class="compose-box"><summary>New hotline message</summary>
      <form id="compose-form" class="compose" aria-label="Send a hotline message">
      <p id="compose-reply" class="small" hidden>
        Replying to <span id="compose-reply-to"></span>
        <button type="button" id="compose-cancel-reply" aria-label="Cancel the reply">Cancel reply</button>
      </p>
      <label for="compose-to">To party</label>
      <input id="compose-to" name="to" list="compose-parties" required autocomplete="off" />
      <datalist id="compose-parties"></datalist>
      <label for="compose-text">Message</label>
      <textarea id="compose-text" name="text" rows="2" required></textarea>
      <label for="compose-within">Answer within (s, optional)</label>
      <input id="compose-within" name="answer_within_s" type="number" min="1" step="1" />
      <button type="submit">Send</button>
    </form></details>`;
  }

  // ------------------------------------------------------------------ data

  private async refreshAll(): Promise<void> {
    await Promise.all([
      this.refreshAgreement(),
      this.refreshIntents(),
      this.refreshConflicts(),
      this.refreshAlerts(),
      this.refreshHotline(),
      this.pollTracks(),
    ]);
  }

  private notice(text: string): void {
    const element = document.getElementById('notice');
    if (element) {
      element.textContent = text;
    }
  }

  private async guarded<T>(what: string, load: () => Promise<T>): Promise<T | undefined> {
    try {
      return await load();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401 && !this.stopped) {
        this.stop();
        sessionStorage.removeItem(TOKEN_KEY);
        showSignIn('The token is no longer accepted; sign in again.');
      } else if (!this.stopped) {
        this.notice(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
      return undefined;
    }
  }

  private async refreshAgreement(): Promise<void> {
    const read = this.agreementReads.begin();
    const agreement = await this.guarded('Reading the agreement', () => this.api.get<Agreement>('/v1/agreement'));
    if (agreement && this.agreementReads.take(read)) {
      this.agreement = agreement;
      this.renderAgreement();
    }
  }

  private async refreshIntents(): Promise<void> {
    if (this.me.role !== 'party') {
      return;
    }
    const read = this.intentReads.begin();
    const intents = await this.guarded('Reading intents', () =>
      this.api.allPages<Intent>('/v1/intents?limit=1000', 'intents'),
    );
    if (intents && this.intentReads.take(read)) {
      this.intents = intents;
      this.renderIntents();
    }
  }

  private async refreshConflicts(): Promise<void> {
    if (this.me.role === 'admin') {
      return;
    }
    const read = this.conflictReads.begin();
    const conflicts = await this.guarded('Reading conflicts', () =>
      this.api.allPages<Conflict>('/v1/conflicts?limit=1000', 'conflicts'),
    );
    if (conflicts && this.conflictReads.take(read)) {
      this.conflicts = conflicts;
      this.renderConflicts();
    }
  }

  private async refreshAlerts(): Promise<void> {
    if (this.me.role === 'admin') {
      return;
    }
    // Alert events change the list in place, so an answer read before one of them has
    // that change laid over it rather than undoing it.
    const read = this.alertChanges.begin();
    let answer: Map<string, Alert> | undefined;
    try {
      const alerts = await this.api.get<Alert[]>('/v1/alerts');
      answer = new Map(alerts.filter((a) => a.active !== false).map((a) => [a.id, a]));
      this.alertsUnavailable = null;
    } catch (error) {
      this.alertsUnavailable = unavailableReason(error, 'live alerts');
    }
    const merged = this.alertChanges.end(read, answer);
    if (merged) {
      this.alerts = merged;
    }
    this.renderAlerts();
  }

  private async refreshHotline(): Promise<void> {
    if (this.me.role === 'admin') {
      return;
    }
    // As alerts: hotline events change the messages in place.
    const read = this.messageChanges.begin();
    let answer: Map<string, HotlineMessage> | undefined;
    try {
      const messages = await this.api.allAfter<HotlineMessage>('/v1/hotline/messages', 1000);
      answer = new Map(messages.map((m) => [m.id, m]));
      this.hotlineUnavailable = null;
    } catch (error) {
      this.hotlineUnavailable = unavailableReason(error, 'the hotline');
    }
    const merged = this.messageChanges.end(read, answer);
    if (merged) {
      this.messages = merged;
    }
    this.renderHotline();
  }

  /** A message as an event or an answer of the service has it now. */
  private putMessage(message: HotlineMessage): void {
    this.messages.set(message.id, message);
    this.messageChanges.record(message.id, message);
  }

  private async pollTracks(): Promise<void> {
    // A slow answer is not overtaken by the next poll.
    if (this.me.role === 'admin' || this.stopped || this.tracksInFlight || this.tracksForbidden) {
      return;
    }
    let latest: StateVector[];
    this.tracksInFlight = true;
    try {
      latest = await this.api.get<StateVector[]>('/v1/tracks');
    } catch (error) {
      // A role that may not read tracks (an observer, on servers that keep tracks to
      // their party) stops asking; any other miss only leaves the last positions.
      if (error instanceof ApiError && error.status === 403) {
        this.tracksForbidden = true;
      }
      return;
    } finally {
      this.tracksInFlight = false;
    }
    const seen = new Set<string>();
    for (const state of latest) {
      const key = state.party ? `${state.party}/${state.id}` : state.id;
      seen.add(key);
      let track = this.tracks.get(key);
      if (!track) {
        track = { latest: state, trail: [] };
        this.tracks.set(key, track);
        void this.loadHistory(key, state);
      }
      const last = track.trail[track.trail.length - 1];
      if (!last || last[0] !== state.lon || last[1] !== state.lat) {
        track.trail.push([state.lon, state.lat]);
        if (track.trail.length > TRAIL_POINTS_MAX) {
          track.trail.splice(0, track.trail.length - TRAIL_POINTS_MAX);
        }
      }
      track.latest = state;
    }
    for (const key of [...this.tracks.keys()]) {
      if (!seen.has(key)) {
        this.tracks.delete(key);
      }
    }
    this.renderTracks();
  }

  /** Seeds a newly seen aircraft's trail with its recent history (own aircraft only). */
  private async loadHistory(key: string, state: StateVector): Promise<void> {
    if (this.me.role !== 'party' || this.historyRequested.has(key)) {
      return;
    }
    this.historyRequested.add(key);
    try {
      const history = await this.api.get<StateVector[]>(`/v1/tracks/history?id=${encodeURIComponent(state.id)}`);
      const track = this.tracks.get(key);
      if (track && history.length) {
        const older = history
          .filter((point) => Date.parse(point.time) < Date.parse(track.trail.length ? track.latest.time : state.time))
          .map((point): [number, number] => [point.lon, point.lat]);
        track.trail = [...older, ...track.trail].slice(-TRAIL_POINTS_MAX);
      }
    } catch {
      // History is a nicety: the trail grows from the polls anyway.
    }
  }

  // ------------------------------------------------------------------ events

  private onConnection(state: ConnectionState, retryInS?: number): void {
    const element = document.getElementById('connection');
    if (!element) {
      return;
    }
    element.dataset.state = state;
    element.textContent =
      state === 'live'
        ? '● Live'
        : state === 'connecting'
          ? 'Connecting…'
          : state === 'unauthorized'
            ? 'Not authorised for events'
            : `Disconnected, reconnecting${retryInS ? ` in ${retryInS} s` : ''}…`;
  }

  private onEvent(event: ServerEvent): void {
    let data: unknown;
    try {
      data = JSON.parse(event.data);
    } catch {
      return;
    }
    const kind = event.event;
    if (kind.startsWith('conflict.')) {
      void this.refreshConflicts();
      void this.refreshIntents();
    } else if (kind.startsWith('agreement.')) {
      void this.refreshAgreement();
      if (kind === 'agreement.in_force') {
        void this.refreshConflicts();
      }
    } else if (kind === 'alert.raised' || kind === 'alert.updated') {
      const alert = data as Alert;
      const previous = this.alerts.get(alert.id);
      if (!previous || previous.level !== alert.level) {
        this.announce(alert);
      }
      this.alerts.set(alert.id, alert);
      this.alertChanges.record(alert.id, alert);
      this.alertsUnavailable = null;
      this.renderAlerts();
    } else if (kind === 'alert.cleared') {
      const id = (data as Alert).id;
      this.alerts.delete(id);
      this.alertChanges.record(id, null);
      this.renderAlerts();
    } else if (kind.startsWith('hotline.')) {
      const message = data as HotlineMessage;
      this.putMessage(message);
      this.hotlineUnavailable = null;
      this.renderHotline();
    }
  }

  /** Tells screen readers of a new alert or a change of level. */
  private announce(alert: Alert): void {
    const announcer = document.getElementById('announcer');
    if (announcer) {
      const who = alert.own ? `${alert.own.id} and a ${alert.counterpart?.party ?? 'counterpart'} aircraft` : 'two aircraft';
      announcer.textContent = `${alert.level} alert: ${who}, loss of separation in ${Math.round(alert.time_to_los_s)} seconds`;
    }
  }

  // ------------------------------------------------------------------ actions

  private onClick(event: MouseEvent): void {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-action]');
    if (!button) {
      return;
    }
    const id = button.dataset.id ?? '';
    switch (button.dataset.action) {
      case 'show-alert':
        this.showAlert(id);
        break;
      case 'show-conflict':
        this.showConflict(id);
        break;
      case 'ack-conflict':
        void this.act(button, `/v1/conflicts/${encodeURIComponent(id)}/ack`, () => this.refreshConflicts());
        break;
      case 'ack-message':
        void this.act(button, `/v1/hotline/messages/${encodeURIComponent(id)}/ack`, (answer) => {
          const message = answer as HotlineMessage;
          this.putMessage(message);
          this.renderHotline();
        });
        break;
      case 'reply-message':
        this.setReply(this.messages.get(id) ?? null);
        break;
      case 'accept-proposal':
        void this.act(button, `/v1/agreement/proposals/${encodeURIComponent(id)}/accept`, () => this.refreshAgreement());
        break;
      case 'reject-proposal':
        void this.act(button, `/v1/agreement/proposals/${encodeURIComponent(id)}/reject`, () => this.refreshAgreement());
        break;
    }
  }

  private async act(button: HTMLButtonElement, path: string, then: (answer: unknown) => unknown): Promise<void> {
    button.disabled = true;
    try {
      const answer = await this.api.post<unknown>(path);
      this.notice('');
      await then(answer);
    } catch (error) {
      button.disabled = false;
      this.notice(`${button.textContent?.trim() ?? 'That'} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private setReply(message: HotlineMessage | null): void {
    this.replyTo = message;
    const note = document.getElementById('compose-reply');
    const to = document.getElementById('compose-to') as HTMLInputElement | null;
    if (!note || !to) {
      return;
    }
    note.hidden = message === null;
    if (message) {
      (document.getElementById('compose-box') as HTMLDetailsElement).open = true;
      (document.getElementById('compose-reply-to') as HTMLElement).textContent = `${message.from ?? 'the service'}: “${message.text.slice(0, 60)}”`;
      to.value = this.replyRecipient(message) ?? '';
      (document.getElementById('compose-text') as HTMLTextAreaElement).focus();
    }
  }

  /** Whom a reply goes to: the sender, or for the service's own messages the other party. */
  private replyRecipient(message: HotlineMessage): string | null {
    if (message.from && message.from !== this.me.id) {
      return message.from;
    }
    if (message.from === this.me.id) {
      return message.to;
    }
    if (message.about && 'conflict' in message.about) {
      const conflictId = message.about.conflict;
      return this.conflicts.find((c) => c.id === conflictId)?.counterpart?.party ?? null;
    }
    if (message.about && 'alert' in message.about) {
      return this.alerts.get(message.about.alert)?.counterpart?.party ?? null;
    }
    const other = [...this.messages.values()].find((m) => m.thread === message.thread && m.from && m.from !== this.me.id);
    return other?.from ?? null;
  }

  private async send(): Promise<void> {
    const to = (document.getElementById('compose-to') as HTMLInputElement).value.trim();
    const textArea = document.getElementById('compose-text') as HTMLTextAreaElement;
    const within = (document.getElementById('compose-within') as HTMLInputElement).value;
    const body: Record<string, unknown> = { to, text: textArea.value };
    if (within) {
      body.answer_within_s = Number(within);
    }
    if (this.replyTo) {
      body.reply_to = this.replyTo.id;
      if (this.replyTo.about) {
        body.about = this.replyTo.about;
      }
    }
    try {
      const message = await this.api.post<HotlineMessage>('/v1/hotline/messages', body);
      this.putMessage(message);
      textArea.value = '';
      this.setReply(null);
      this.notice('');
      // A reply acknowledges the message it answers.
      await this.refreshHotline();
    } catch (error) {
      this.notice(`Sending failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Fits the map to an alert's aircraft and predicted closest points. */
  private showAlert(id: string): void {
    const alert = this.alerts.get(id);
    if (!alert) {
      return;
    }
    const extent = new Extent();
    for (const point of [
      alert.own,
      alert.counterpart,
      ...(alert.aircraft ?? []),
      alert.cpa.own,
      alert.cpa.counterpart,
      ...(alert.cpa.points ?? []),
    ]) {
      if (point) {
        extent.add(point.lon, point.lat);
      }
    }
    this.map.fit(extent, 0.05);
  }

  private showConflict(id: string): void {
    const conflict = this.conflicts.find((c) => c.id === id);
    const ring = conflict?.overlaps[0]?.region.coordinates[0]?.[0];
    if (ring) {
      const extent = new Extent();
      extent.addRing(ring);
      this.map.fit(extent);
    }
  }

  private fitAll(): void {
    const extent = new Extent();
    const region = this.agreement?.in_force?.terms.region;
    for (const part of [
      this.map.setRegion(region ?? null),
      this.map.setIntents(this.intents),
      this.map.setConflicts(this.conflicts),
      this.map.setTracks(this.tracks, this.alertList()),
    ]) {
      if (!part.empty) {
        extent.add(part.west, part.south);
        extent.add(part.east, part.north);
      }
    }
    this.map.fit(extent);
  }

  // ------------------------------------------------------------------ rendering

  private alertList(): Alert[] {
    return [...this.alerts.values()].sort(byUrgency);
  }

  /** Replaces a panel's content, keeping keyboard focus on the same button if it is still there. */
  private renderPanel(id: string, html: string): void {
    const element = document.getElementById(id);
    if (!element || element.dataset.html === html) {
      return;
    }
    const active = document.activeElement as HTMLElement | null;
    const focusKey =
      active && element.contains(active) && active.dataset.action ? `[data-action="${active.dataset.action}"][data-id="${CSS.escape(active.dataset.id ?? '')}"]` : null;
    element.innerHTML = html;
    element.dataset.html = html;
    if (focusKey) {
      element.querySelector<HTMLElement>(focusKey)?.focus();
    }
    tickCountdowns(element, Date.now());
  }

  private setCount(id: string, text: string): void {
    const element = document.getElementById(id);
    if (element && element.textContent !== text) {
      element.textContent = text;
    }
  }

  private renderAgreement(): void {
    if (!this.agreement) {
      return;
    }
    const pending = this.agreement.pending.length;
    this.setCount('agreement-count', pending ? `(${pending} pending)` : '');
    this.renderPanel('agreement', agreementPanel(this.agreement.in_force, this.agreement.pending, this.me));
    const extent = this.map.setRegion(this.agreement.in_force?.terms.region ?? null);
    this.map.fitOnce(extent);
    this.updatePartyList();
  }

  private renderIntents(): void {
    this.renderPanel('intents', intentsPanel(this.intents));
    this.map.fitOnce(this.map.setIntents(this.intents));
  }

  private renderConflicts(): void {
    const open = this.conflicts.filter((c) => c.status === 'open');
    this.setCount('conflicts-count', open.length ? `(${open.length})` : '');
    this.renderPanel('conflicts', conflictsPanel(open, this.me));
    this.map.fitOnce(this.map.setConflicts(this.conflicts));
    this.updatePartyList();
  }

  private renderAlerts(): void {
    const alerts = this.alertList();
    this.setCount('alerts-count', alerts.length ? `(${alerts.length})` : '');
    this.renderPanel('alerts', alertsPanel(alerts, Date.now(), this.alertsUnavailable));
    this.renderAlertsOnMap();
    this.renderTracks();
  }

  private renderAlertsOnMap(): void {
    this.map.setAlerts(this.alertList());
  }

  private renderHotline(): void {
    const list = threads(this.messages.values(), this.me);
    const unread = list.reduce((sum, thread) => sum + thread.unread, 0);
    this.setCount('hotline-count', unread ? `(${unread} unread)` : '');
    this.renderPanel('hotline', hotlinePanel(list, this.me, Date.now(), this.hotlineUnavailable));
    const compose = document.getElementById('compose-box');
    if (compose) {
      compose.hidden = this.hotlineUnavailable !== null;
    }
    this.updatePartyList();
  }

  private renderTracks(): void {
    this.map.fitOnce(this.map.setTracks(this.tracks, this.alertList()));
  }

  /** The parties the console knows of, offered when addressing a hotline message. */
  private updatePartyList(): void {
    const list = document.getElementById('compose-parties');
    if (!list) {
      return;
    }
    const parties = new Set<string>();
    for (const version of this.agreement?.versions ?? []) {
      for (const answer of version.answers) {
        parties.add(answer.party);
      }
      for (const contact of version.terms.contacts ?? []) {
        parties.add(contact.party);
      }
    }
    for (const conflict of this.conflicts) {
      if (conflict.counterpart) {
        parties.add(conflict.counterpart.party);
      }
    }
    for (const message of this.messages.values()) {
      for (const party of [message.from, message.to]) {
        if (party) {
          parties.add(party);
        }
      }
    }
    parties.delete(this.me.id);
    const html = [...parties].sort().map((p) => `<option value="${escapeHtml(p)}"></option>`).join('');
    if (list.innerHTML !== html) {
      list.innerHTML = html;
    }
  }
}

const fromAddress = takeTokenFromAddress();
const stored = sessionStorage.getItem(TOKEN_KEY);
if (fromAddress) {
  void signIn(fromAddress);
} else if (stored) {
  void signIn(stored);
} else {
  showSignIn();
}
