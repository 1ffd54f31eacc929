// The side panels as HTML: alerts, conflicts, the hotline, intents and the agreement.
// Every value from the service is escaped; levels and states are spelled out in text
// (never colour alone); buttons carry data-action and data-id for the page's one click
// handler, and an aria-label naming what they act on.

import { altitudeBand, countdownSpan, duration, escapeHtml as e, metres, utc } from './format';
import type { AgreementVersion, Alert, AlertLevel, Conflict, HotlineMessage, Intent, Me, Terms } from './types';

const LEVEL_RANK: Record<AlertLevel, number> = { advisory: 1, caution: 2, warning: 3 };
const LEVEL_ICON: Record<AlertLevel, string> = { advisory: 'ⓘ', caution: '△', warning: '⚠' };

/** When separation is predicted to be lost, in milliseconds since the epoch. */
export function lossOfSeparationMs(alert: Alert): number {
  return Date.parse(alert.updated_at) + alert.time_to_los_s * 1000;
}

/** Most urgent first: the earliest loss of separation, then the higher level. */
export function byUrgency(a: Alert, b: Alert): number {
  return lossOfSeparationMs(a) - lossOfSeparationMs(b) || LEVEL_RANK[b.level] - LEVEL_RANK[a.level] || a.id.localeCompare(b.id);
}

function levelBadge(level: AlertLevel): string {
  return `<span class="badge level-${level}"><span aria-hidden="true">${LEVEL_ICON[level]}</span> ${level.toUpperCase()}</span>`;
}

function empty(text: string): string {
  return `<p class="empty">${e(text)}</p>`;
}

export function alertsPanel(alerts: Alert[], nowMs: number, unavailable: string | null): string {
  if (unavailable) {
    return empty(unavailable);
  }
  if (alerts.length === 0) {
    return empty('No active alerts.');
  }
  const items = [...alerts].sort(byUrgency).map((alert) => {
    const who =
      alert.own && alert.counterpart
        ? `<strong>${e(alert.own.id)}</strong> and a <strong>${e(alert.counterpart.party)}</strong> aircraft`
        : (alert.aircraft ?? []).map((a) => `<strong>${e(a.party)}</strong>`).join(' and ') + ' aircraft';
    const los =
      alert.time_to_los_s <= 0
        ? '<strong>Separation lost</strong>'
        : `Loss of separation ${countdownSpan(lossOfSeparationMs(alert), nowMs, 'passed')}`;
    return `<li class="alert level-${alert.level}" data-alert-item="${e(alert.id)}" data-level="${alert.level}">
      <div class="row">${levelBadge(alert.level)} <span>${who}</span></div>
      <div class="row">${los}</div>
      <div class="row small">Closest approach in ${duration(alert.tcpa_s)}, ${metres(alert.dcpa_m)} apart · now ${metres(
        alert.distance_m,
      )}, ${metres(alert.vertical_m)} vertically</div>
      <div class="row"><button type="button" data-action="show-alert" data-id="${e(alert.id)}"
        aria-label="Show the ${alert.level} alert ${e(alert.own?.id ?? '')} on the map">Show on map</button></div>
    </li>`;
  });
  return `<ol class="list">${items.join('')}</ol>`;
}

export function conflictsPanel(conflicts: Conflict[], me: Me): string {
  if (conflicts.length === 0) {
    return empty('No open conflicts.');
  }
  const items = conflicts.map((conflict) => {
    const overlap = conflict.overlaps[0];
    const where = overlap
      ? `${altitudeBand(overlap.altitude_lower_m, overlap.altitude_upper_m)}, ${utc(overlap.time_start)} to ${utc(
          overlap.time_end,
        )}`
      : 'region withheld';
    const status = `<span class="status status-${e(conflict.status)}">${e(conflict.status.toUpperCase())}</span>`;
    if (conflict.parties) {
      const acked = conflict.acknowledged_by ?? [];
      return `<li class="conflict" data-conflict-item="${e(conflict.id)}">
        <div class="row">${status} <strong>${e(conflict.parties[0])}</strong> and <strong>${e(conflict.parties[1])}</strong></div>
        <div class="row small">${e(where)}</div>
        <div class="row small">Acknowledged by: ${acked.length ? acked.map(e).join(', ') : 'nobody yet'}</div>
      </li>`;
    }
    const counterpart = conflict.counterpart?.party ?? 'another party';
    const ownAck = conflict.acknowledged_at
      ? `You acknowledged at ${utc(conflict.acknowledged_at)}`
      : '<strong>Not acknowledged by you</strong>';
    const theirAck = conflict.counterpart_acknowledged ? `${e(counterpart)} acknowledged` : `${e(counterpart)} has not acknowledged`;
    const button =
      me.role === 'party' && !conflict.acknowledged_at && conflict.status === 'open'
        ? `<button type="button" data-action="ack-conflict" data-id="${e(conflict.id)}"
            aria-label="Acknowledge the conflict of ${e(conflict.intent ?? '')} with ${e(counterpart)}">Acknowledge</button>`
        : '';
    return `<li class="conflict" data-conflict-item="${e(conflict.id)}">
      <div class="row">${status} Your intent <strong>${e(conflict.intent ?? '')}</strong> with <strong>${e(counterpart)}</strong></div>
      <div class="row small">${e(where)}</div>
      <div class="row small">${ownAck} · ${theirAck}</div>
      <div class="row"><button type="button" data-action="show-conflict" data-id="${e(conflict.id)}"
        aria-label="Show the conflict with ${e(counterpart)} on the map">Show on map</button> ${button}</div>
    </li>`;
  });
  return `<ul class="list">${items.join('')}</ul>`;
}

export function intentsPanel(intents: Intent[]): string {
  if (intents.length === 0) {
    return empty('No intents filed.');
  }
  const items = intents.map((intent) => {
    const volumes = intent.volumes
      .map(
        (volume, index) =>
          `<li>Volume ${index + 1}: ${altitudeBand(volume.volume.altitude_lower?.value, volume.volume.altitude_upper?.value)}, ${utc(
            volume.time_start?.value,
          )} to ${utc(volume.time_end?.value)}</li>`,
      )
      .join('');
    return `<li class="intent" tabindex="0" data-intent-item="${e(intent.id)}"
        aria-label="Intent ${e(intent.id)}, ${e(intent.state)}, version ${intent.version}">
      <div class="row"><strong>${e(intent.id)}</strong> <span class="status">${e(intent.state.toUpperCase())}</span> v${intent.version}</div>
      <ul class="small volumes">${volumes}</ul>
    </li>`;
  });
  return `<ul class="list">${items.join('')}</ul>`;
}

export interface Thread {
  id: string;
  messages: HotlineMessage[];
  unread: number;
  escalated: boolean;
  latestMs: number;
}

/** Messages grouped by thread: threads needing the viewer's answer first, then the newest. */
export function threads(messages: Iterable<HotlineMessage>, me: Me): Thread[] {
  const byThread = new Map<string, Thread>();
  for (const message of messages) {
    let thread = byThread.get(message.thread);
    if (!thread) {
      thread = { id: message.thread, messages: [], unread: 0, escalated: false, latestMs: 0 };
      byThread.set(message.thread, thread);
    }
    thread.messages.push(message);
    const forMe = me.role === 'observer' || message.to === me.id;
    if (forMe && !message.acked_at) {
      thread.unread += 1;
    }
    if (message.escalated_at && !message.acked_at) {
      thread.escalated = true;
    }
    thread.latestMs = Math.max(thread.latestMs, Date.parse(message.sent_at));
  }
  const list = [...byThread.values()];
  for (const thread of list) {
    thread.messages.sort((a, b) => Date.parse(a.sent_at) - Date.parse(b.sent_at) || a.id.localeCompare(b.id));
  }
  return list.sort((a, b) => Number(b.unread > 0) - Number(a.unread > 0) || b.latestMs - a.latestMs);
}

/** "about conflict cf_f515…": enough of the id to tell threads apart. */
function about(message: HotlineMessage): string {
  if (!message.about) {
    return '';
  }
  const [kind, id] = 'conflict' in message.about ? ['conflict', message.about.conflict] : ['alert', message.about.alert];
  const short = id.length > 14 ? `${id.slice(0, 12)}…` : id;
  return `about ${kind} <span title="${e(id)}">${e(short)}</span>`;
}

export function hotlinePanel(list: Thread[], me: Me, nowMs: number, unavailable: string | null): string {
  if (unavailable) {
    return empty(unavailable);
  }
  if (list.length === 0) {
    return empty('No hotline messages.');
  }
  const items = list.map((thread) => {
    const first = thread.messages[0];
    const parties = [...new Set(thread.messages.flatMap((m) => [m.from ?? 'the service', m.to]))].join(', ');
    const header = `<div class="row thread-head">
      <strong>${first.about ? `Thread ${about(first)}` : 'Thread'}</strong> <span class="small">(${e(parties)})</span>
      ${thread.unread ? `<span class="badge unread" aria-label="${thread.unread} unacknowledged">${thread.unread} unread</span>` : ''}
      ${thread.escalated ? '<span class="badge escalated">ESCALATED</span>' : ''}
    </div>`;
    const messages = thread.messages.map((message) => {
      const from = message.from ?? 'the service';
      const toMe = message.to === me.id;
      let state: string;
      if (message.acked_at) {
        state = `<span class="status">ACKNOWLEDGED</span> ${utc(message.acked_at)}${message.acked_by ? ` by ${e(message.acked_by)}` : ''}`;
      } else if (message.escalated_at) {
        state = `<span class="escalated-text">ESCALATED at ${utc(message.escalated_at)}: no answer in time</span>`;
      } else if (message.answer_by) {
        state = `Answer due ${countdownSpan(Date.parse(message.answer_by), nowMs)}`;
      } else {
        state = 'No answer required';
      }
      const buttons: string[] = [];
      if (me.role === 'party' && toMe && !message.acked_at) {
        buttons.push(
          `<button type="button" data-action="ack-message" data-id="${e(message.id)}"
            aria-label="Acknowledge the message from ${e(from)}">Acknowledge</button>`,
        );
      }
      if (me.role === 'party') {
        buttons.push(
          `<button type="button" data-action="reply-message" data-id="${e(message.id)}"
            aria-label="Reply to the message from ${e(from)}">Reply</button>`,
        );
      }
      const classes = ['message'];
      if (message.escalated_at && !message.acked_at) {
        classes.push('escalated');
      }
      if (toMe && !message.acked_at) {
        classes.push('unread');
      }
      return `<li class="${classes.join(' ')}" data-message-item="${e(message.id)}">
        <div class="row small">${utc(message.sent_at)} · <strong>${e(from)}</strong> to <strong>${e(message.to)}</strong></div>
        <div class="row text">${e(message.text)}</div>
        <div class="row small">${state}</div>
        ${buttons.length ? `<div class="row">${buttons.join(' ')}</div>` : ''}
      </li>`;
    });
    return `<li class="thread${thread.escalated ? ' escalated' : ''}" data-thread-item="${e(thread.id)}">${header}<ol class="messages">${messages.join(
      '',
    )}</ol></li>`;
  });
  return `<ul class="list">${items.join('')}</ul>`;
}

function termsSummary(terms: Terms): string {
  const t = terms.tactical;
  const rows: [string, string][] = [
    ['Strategic separation', `${metres(terms.separation.horizontal_m)}, ${metres(terms.separation.vertical_m)}, ${duration(terms.separation.time_s)}`],
    ['Tactical criterion', `${t.criterion}, ${metres(t.horizontal_m)}, ${metres(t.vertical_m)}, lookahead ${duration(t.lookahead_s)}`],
    ['Alert levels', `warning ≤ ${duration(t.warning_s)}, caution ≤ ${duration(t.caution_s)}`],
    ['Disclosure', terms.disclosure],
    ['Hotline answers within', duration(terms.hotline.answer_within_s)],
    ['Region', terms.region ? `${terms.region.vertices.length} vertices (dashed on the map)` : 'everywhere'],
  ];
  for (const frequency of terms.frequencies ?? []) {
    rows.push([`Frequency ${frequency.name}`, `${frequency.mhz} MHz`]);
  }
  for (const contact of terms.contacts ?? []) {
    rows.push([`Contact ${contact.party}`, [contact.name, contact.phone, contact.email].filter(Boolean).join(', ')]);
  }
  return `<dl class="terms">${rows.map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`).join('')}</dl>`;
}

function changedTerms(proposal: Terms, inForce: Terms | undefined): string {
  if (!inForce) {
    return '';
  }
  const changed = (Object.keys(proposal) as (keyof Terms)[]).filter(
    (key) => JSON.stringify(proposal[key]) !== JSON.stringify(inForce[key]),
  );
  return `<p class="small">Changes: ${changed.length ? changed.map(e).join(', ') : 'none'}</p>`;
}

export function agreementPanel(inForce: AgreementVersion | null, pending: AgreementVersion[], me: Me): string {
  const parts: string[] = [];
  if (inForce) {
    parts.push(`<h3>In force: version ${inForce.version}</h3>
      <p class="small">Proposed by ${e(inForce.proposed_by ?? 'the service')}, in force since ${utc(inForce.decided_at)}</p>
      ${termsSummary(inForce.terms)}`);
  } else {
    parts.push(empty('No agreement in force.'));
  }
  if (pending.length === 0) {
    parts.push(empty('No pending proposals.'));
  }
  for (const proposal of pending) {
    const answered = proposal.answers.find((answer) => answer.party === me.id);
    const answers = proposal.answers.length
      ? proposal.answers.map((a) => `${e(a.party)}: ${a.accepted ? 'accepted' : 'rejected'}`).join(', ')
      : 'no answers yet';
    const buttons =
      me.role === 'party' && !answered
        ? `<div class="row">
            <button type="button" data-action="accept-proposal" data-id="${proposal.version}"
              aria-label="Accept proposal version ${proposal.version}">Accept</button>
            <button type="button" data-action="reject-proposal" data-id="${proposal.version}"
              aria-label="Reject proposal version ${proposal.version}">Reject</button>
          </div>`
        : answered
          ? `<p class="small">You ${answered.accepted ? 'accepted' : 'rejected'} it at ${utc(answered.answered_at)}.</p>`
          : '';
    parts.push(`<div class="proposal" data-proposal-item="${proposal.version}">
      <h3>Proposal: version ${proposal.version} <span class="status">PENDING</span></h3>
      <p class="small">Proposed by ${e(proposal.proposed_by ?? 'the service')} at ${utc(proposal.proposed_at)}; answers: ${answers}</p>
      ${changedTerms(proposal.terms, inForce?.terms)}
      <details><summary>Proposed terms</summary>${termsSummary(proposal.terms)}</details>
      ${buttons}
    </div>`);
  }
  return parts.join('');
}
