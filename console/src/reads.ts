// Keeping a list read from the API true when events about it arrive while it is read.
//
// The console reads a list again after every event of its kind, and in full every 30
// seconds. Reads overlap and can be answered out of order, and an answer holds the list
// as it was when the server read it: taken as it comes, a read begun before an event and
// answered after it would put back what the event changed (a conflict acknowledged shown
// open again until the next refresh, an alert cleared shown again).

/**
 * The order of the reads of one list: an answer is taken only when no read begun after it
 * has been taken already. Every event that changes the list starts a read after it, so
 * the read begun last holds every change the console has been told of.
 */
export class ReadOrder {
  private begun = 0;
  private taken = 0;

  /** Starts a read; its ticket is given to `take` with the answer. */
  begin(): number {
    this.begun += 1;
    return this.begun;
  }

  /** Whether the answer to the read of `ticket` is to be taken (it is then the latest). */
  take(ticket: number): boolean {
    if (ticket <= this.taken) {
      return false;
    }
    this.taken = ticket;
    return true;
  }
}

/**
 * The changes events made to a keyed list while reads of it were in flight, laid again
 * over the answer of each read begun before them: an answer holds the list as the server
 * read it, perhaps before those events. A change is a new value for a key, or `null` for
 * a key removed. A change from before a read began is not laid over its answer: the
 * server read the list after it, and the answer may hold a later state still.
 */
export class ChangesDuringReads<T> {
  private inFlight = 0;
  /** Counts reads begun and changes recorded, so that each can be placed after the other. */
  private clock = 0;
  private changes = new Map<string, { at: number; value: T | null }>();

  /** Starts a read; give its ticket to `end` with its answer, or without one when it failed. */
  begin(): number {
    this.inFlight += 1;
    this.clock += 1;
    return this.clock;
  }

  /** Records what an event changed (nothing to keep when no read is in flight). */
  record(key: string, value: T | null): void {
    if (this.inFlight > 0) {
      this.clock += 1;
      this.changes.set(key, { at: this.clock, value });
    }
  }

  /**
   * Ends the read of `ticket`: its answer (when there is one) with the latest change of
   * each key recorded since the read began laid over it.
   */
  end(ticket: number, answer?: Map<string, T>): Map<string, T> | undefined {
    this.inFlight = Math.max(0, this.inFlight - 1);
    let merged: Map<string, T> | undefined;
    if (answer) {
      merged = new Map(answer);
      for (const [key, { at, value }] of this.changes) {
        if (at < ticket) {
          continue;
        }
        if (value === null) {
          merged.delete(key);
        } else {
          merged.set(key, value);
        }
      }
    }
    if (this.inFlight === 0) {
      this.changes.clear();
    }
    return merged;
  }
}
