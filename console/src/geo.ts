// Just enough geometry to draw: circles as polygons, headings, and extents. Distances
// here are for display only (a sphere of the mean Earth radius); the service does the
// real computations on WGS84.

import type { Feature, Polygon, Position } from 'geojson';
import type { LatLng, Volume4D } from './types';

const EARTH_RADIUS_MEAN_M = 6_371_008.8;
const CIRCLE_SEGMENTS = 64;
const DEG = Math.PI / 180;

/** The point `distance_m` from (lat, lon) along `bearing_rad`, on the mean sphere. */
export function destination(lat: number, lon: number, bearing_rad: number, distance_m: number): Position {
  const angular = distance_m / EARTH_RADIUS_MEAN_M;
  const lat1 = lat * DEG;
  const lon1 = lon * DEG;
  const lat2 = Math.asin(Math.sin(lat1) * Math.cos(angular) + Math.cos(lat1) * Math.sin(angular) * Math.cos(bearing_rad));
  const lon2 =
    lon1 +
    Math.atan2(Math.sin(bearing_rad) * Math.sin(angular) * Math.cos(lat1), Math.cos(angular) - Math.sin(lat1) * Math.sin(lat2));
  return [(((lon2 / DEG + 540) % 360) - 180), lat2 / DEG];
}

export function circleRing(center: LatLng, radius_m: number): Position[] {
  const ring: Position[] = [];
  for (let i = 0; i <= CIRCLE_SEGMENTS; i++) {
    ring.push(destination(center.lat, center.lng, (2 * Math.PI * i) / CIRCLE_SEGMENTS, radius_m));
  }
  return ring;
}

export function polygonRing(vertices: LatLng[]): Position[] {
  const ring = vertices.map((v): Position => [v.lng, v.lat]);
  if (ring.length > 0) {
    const [first, last] = [ring[0], ring[ring.length - 1]];
    if (first[0] !== last[0] || first[1] !== last[1]) {
      ring.push(first);
    }
  }
  return ring;
}

/** The footprint of a Volume4D as a GeoJSON polygon feature, or null if it has none. */
export function volumeFeature(volume: Volume4D, properties: Record<string, unknown>): Feature<Polygon> | null {
  const outline = volume.volume;
  let ring: Position[] | null = null;
  if (outline.outline_polygon?.vertices?.length) {
    ring = polygonRing(outline.outline_polygon.vertices);
  } else if (outline.outline_circle) {
    const { center, radius } = outline.outline_circle;
    ring = circleRing(center, radius.value);
  }
  if (!ring) {
    return null;
  }
  return { type: 'Feature', geometry: { type: 'Polygon', coordinates: [ring] }, properties };
}

/** Heading in degrees clockwise from north, from the velocity's north and east parts. */
export function headingDeg(vn_mps: number, ve_mps: number): number {
  return ((Math.atan2(ve_mps, vn_mps) / DEG) + 360) % 360;
}

export function groundSpeedMps(vn_mps: number, ve_mps: number): number {
  return Math.hypot(vn_mps, ve_mps);
}

/** The centre of a ring's bounding box: where a label goes. */
export function ringCenter(ring: Position[]): Position {
  let [west, south, east, north] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [lon, lat] of ring) {
    west = Math.min(west, lon);
    east = Math.max(east, lon);
    south = Math.min(south, lat);
    north = Math.max(north, lat);
  }
  return [(west + east) / 2, (south + north) / 2];
}

export class Extent {
  west = Infinity;
  south = Infinity;
  east = -Infinity;
  north = -Infinity;

  add(lon: number, lat: number): void {
    if (!Number.isFinite(lon) || !Number.isFinite(lat)) {
      return;
    }
    this.west = Math.min(this.west, lon);
    this.east = Math.max(this.east, lon);
    this.south = Math.min(this.south, lat);
    this.north = Math.max(this.north, lat);
  }

  addRing(ring: Position[]): void {
    for (const [lon, lat] of ring) {
      this.add(lon, lat);
    }
  }

  get empty(): boolean {
    return this.west > this.east;
  }
}
