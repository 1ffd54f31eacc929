// The JSON shapes the console reads from the /v1 API (see the server's OpenAPI document).

export type Role = 'party' | 'observer' | 'admin';

export interface Me {
  id: string;
  name: string;
  role: Role;
  created_at: string;
}

export interface LatLng {
  lat: number;
  lng: number;
}

export interface Volume4D {
  volume: {
    outline_polygon?: { vertices: LatLng[] } | null;
    outline_circle?: { center: LatLng; radius: { value: number; units: string } } | null;
    altitude_lower?: { value: number; reference: string; units: string } | null;
    altitude_upper?: { value: number; reference: string; units: string } | null;
  };
  time_start?: { value: string; format: string } | null;
  time_end?: { value: string; format: string } | null;
}

export interface Intent {
  id: string;
  version: number;
  state: 'accepted' | 'activated' | 'ended';
  volumes: Volume4D[];
  created_at: string;
  updated_at: string;
}

export interface MultiPolygon {
  type: 'MultiPolygon';
  coordinates: number[][][][];
}

export interface Overlap {
  region: MultiPolygon;
  altitude_lower_m: number;
  altitude_upper_m: number;
  time_start: string;
  time_end: string;
}

export interface Conflict {
  id: string;
  status: 'open' | 'resolved';
  opened_at: string;
  updated_at: string;
  resolved_at: string | null;
  overlaps: Overlap[];
  // A party's view:
  intent?: string;
  volumes?: number[];
  counterpart?: { party: string; reference: string; intent?: string; state?: string; volumes?: Volume4D[] };
  disclosure?: string;
  acknowledged_at?: string | null;
  counterpart_acknowledged?: boolean;
  // An observer's view:
  parties?: [string, string];
  acknowledged_by?: string[];
}

export interface AgreementVersion {
  version: number;
  status: 'pending' | 'in_force' | 'rejected' | 'superseded' | string;
  terms: Terms;
  proposed_by: string | null;
  proposed_at: string;
  decided_at: string | null;
  answers: { party: string; accepted: boolean; answered_at: string }[];
}

export interface Terms {
  separation: { horizontal_m: number; vertical_m: number; time_s: number };
  tactical: {
    criterion: string;
    horizontal_m: number;
    vertical_m: number;
    lookahead_s: number;
    warning_s: number;
    caution_s: number;
    [key: string]: unknown;
  };
  disclosure: string;
  hotline: { answer_within_s: number };
  region: { vertices: LatLng[] } | null;
  frequencies: { name: string; mhz: number }[];
  contacts: { party: string; name: string; phone?: string; email?: string }[];
}

export interface Agreement {
  in_force: AgreementVersion | null;
  pending: AgreementVersion[];
  versions: AgreementVersion[];
}

export interface StateVector {
  id: string;
  party?: string;
  time: string;
  lat: number;
  lon: number;
  alt_m: number;
  vn_mps: number;
  ve_mps: number;
  vu_mps: number;
}

export interface CounterpartState extends Omit<StateVector, 'id'> {
  ref: string;
  party: string;
}

export interface Position3 {
  lat: number;
  lon: number;
  alt_m: number;
}

export type AlertLevel = 'advisory' | 'caution' | 'warning';

export interface Alert {
  id: string;
  level: AlertLevel;
  active: boolean;
  time_to_los_s: number;
  tcpa_s: number;
  dcpa_m: number;
  distance_m: number;
  vertical_m: number;
  raised_at: string;
  updated_at: string;
  cleared_at: string | null;
  // A party's view:
  own?: StateVector;
  counterpart?: CounterpartState;
  // An observer's view:
  aircraft?: CounterpartState[];
  cpa: { own?: Position3; counterpart?: Position3; points?: Position3[] };
}

export interface HotlineMessage {
  id: string;
  thread: string;
  from: string | null;
  to: string;
  text: string;
  about: { conflict: string } | { alert: string } | null;
  reply_to: string | null;
  sent_at: string;
  answer_within_s: number | null;
  answer_by: string | null;
  acked_at: string | null;
  acked_by: string | null;
  escalated_at: string | null;
}
