// Text for people: escaping, durations, countdowns, distances and times.

export function escapeHtml(text: unknown): string {
  return String(text ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** "42 s", "3 min 05 s", "1 h 02 min". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return `${s} s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  }
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * A countdown to `deadlineMs` as seen at `nowMs`: "in 42 s" or "overdue by 10 s".
 * Elements carrying `data-countdown-to` are refreshed every second by `tickCountdowns`.
 */
export function countdownText(deadlineMs: number, nowMs: number, pastWord = 'overdue by'): string {
  const remaining_s = (deadlineMs - nowMs) / 1000;
  return remaining_s >= 0 ? `in ${duration(remaining_s)}` : `${pastWord} ${duration(-remaining_s)}`;
}

export function countdownSpan(deadlineMs: number, nowMs: number, pastWord = 'overdue by'): string {
  return `<span class="countdown" data-countdown-to="${deadlineMs}" data-countdown-past="${escapeHtml(pastWord)}">${escapeHtml(
    countdownText(deadlineMs, nowMs, pastWord),
  )}</span>`;
}

export function tickCountdowns(root: ParentNode, nowMs: number): void {
  for (const element of root.querySelectorAll<HTMLElement>('[data-countdown-to]')) {
    const deadline = Number(element.dataset.countdownTo);
    const text = countdownText(deadline, nowMs, element.dataset.countdownPast ?? 'overdue by');
    if (element.textContent !== text) {
      element.textContent = text;
    }
    element.classList.toggle('overdue', deadline < nowMs);
  }
}

export function metres(value: number): string {
  if (!Number.isFinite(value)) {
    return '–';
  }
  return Math.abs(value) >= 10_000 ? `${(value / 1000).toFixed(1)} km` : `${Math.round(value)} m`;
}

/** "2026-11-26 10:00:00Z": UTC, to the second, as duty officers log times. */
export function utc(time: string | null | undefined): string {
  if (!time) {
    return '–';
  }
  const date = new Date(time);
  if (Number.isNaN(date.getTime())) {
    return String(time);
  }
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

export function altitudeBand(lower: number | undefined | null, upper: number | undefined | null): string {
  return `${lower == null ? '–' : Math.round(lower)}–${upper == null ? '–' : Math.round(upper)} m`;
}
