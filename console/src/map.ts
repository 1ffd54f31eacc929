// The live map: an offline basemap (Natural Earth country outlines from world-atlas,
// drawn by a style built here: no tiles, fonts or sprites from anywhere), the agreement's
// region, own intents, disclosed conflict regions, own aircraft with trails, and every
// alert's counterpart and predicted closest point of approach.
//
// Aircraft, counterparts, closest points and conflict labels are DOM markers, so they
// carry text and data attributes (data-aircraft="F16-1") and need no glyphs.

import * as maplibregl from 'maplibre-gl';
import type { GeoJSONSource, MapLayerMouseEvent, StyleSpecification } from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import countriesUrl from 'world-atlas/countries-50m.json?url';
import { feature } from 'topojson-client';
import type { Topology } from 'topojson-specification';
import type { Feature, FeatureCollection, Geometry, Position } from 'geojson';

import { escapeHtml, metres, altitudeBand, utc } from './format';
import { Extent, groundSpeedMps, headingDeg, polygonRing, ringCenter, volumeFeature } from './geo';
import type { Alert, AlertLevel, Conflict, CounterpartState, Intent, LatLng, Position3, StateVector } from './types';

maplibregl.setWorkerUrl(workerUrl);

export interface TrackView {
  latest: StateVector;
  /** Recent positions, oldest first, as [lon, lat]. */
  trail: Position[];
}

const EMPTY: FeatureCollection = { type: 'FeatureCollection', features: [] };
const SOURCES = ['countries', 'region', 'intents', 'conflicts', 'trails', 'cpa'] as const;
type SourceName = (typeof SOURCES)[number];

const LEVEL_LABEL: Record<AlertLevel, string> = { advisory: 'ADVISORY', caution: 'CAUTION', warning: 'WARNING' };
const LEVEL_RANK: Record<AlertLevel, number> = { advisory: 1, caution: 2, warning: 3 };

function style(): StyleSpecification {
  const sources: StyleSpecification['sources'] = {};
  for (const name of SOURCES) {
    sources[name] = { type: 'geojson', data: EMPTY };
  }
  return {
    version: 8,
    sources,
    layers: [
      { id: 'sea', type: 'background', paint: { 'background-color': '#d8e4ee' } },
      { id: 'countries-fill', type: 'fill', source: 'countries', paint: { 'fill-color': '#f3f0e8' } },
      { id: 'countries-line', type: 'line', source: 'countries', paint: { 'line-color': '#8c8c8c', 'line-width': 0.7 } },
      {
        id: 'region-line',
        type: 'line',
        source: 'region',
        paint: { 'line-color': '#333333', 'line-width': 2, 'line-dasharray': [6, 3] },
      },
      {
        id: 'intents-fill',
        type: 'fill',
        source: 'intents',
        paint: { 'fill-color': '#1f6fd1', 'fill-opacity': ['case', ['==', ['get', 'state'], 'ended'], 0.05, 0.16] },
      },
      { id: 'intents-line', type: 'line', source: 'intents', paint: { 'line-color': '#1f6fd1', 'line-width': 1.5 } },
      {
        id: 'intents-focus',
        type: 'line',
        source: 'intents',
        filter: ['==', ['get', 'intent'], ''],
        paint: { 'line-color': '#0b3d91', 'line-width': 4 },
      },
      { id: 'conflicts-fill', type: 'fill', source: 'conflicts', paint: { 'fill-color': '#e8590c', 'fill-opacity': 0.28 } },
      {
        id: 'conflicts-line',
        type: 'line',
        source: 'conflicts',
        paint: { 'line-color': '#9c2d00', 'line-width': 2.5, 'line-dasharray': [2, 1.5] },
      },
      { id: 'trails', type: 'line', source: 'trails', paint: { 'line-color': '#1b4f8a', 'line-width': 2, 'line-opacity': 0.6 } },
      {
        id: 'cpa-lines',
        type: 'line',
        source: 'cpa',
        paint: { 'line-color': '#6a1b9a', 'line-width': 2, 'line-dasharray': [1, 1.5] },
      },
    ],
  };
}

function alertLevelOf(aircraftId: string, alerts: Alert[]): AlertLevel | null {
  let best: AlertLevel | null = null;
  for (const alert of alerts) {
    if (alert.own?.id === aircraftId && (!best || LEVEL_RANK[alert.level] > LEVEL_RANK[best])) {
      best = alert.level;
    }
  }
  return best;
}

/** Keeps one DOM marker per key, adding, moving and removing them to match each update. */
class MarkerSet {
  private markers = new Map<string, { marker: maplibregl.Marker; element: HTMLElement }>();

  constructor(private readonly map: maplibregl.Map) {}

  sync(
    items: {
      key: string;
      lngLat: [number, number];
      anchor?: maplibregl.PositionAnchor;
      build: (element: HTMLElement) => void;
    }[],
  ): void {
    const seen = new Set<string>();
    for (const item of items) {
      seen.add(item.key);
      let entry = this.markers.get(item.key);
      if (!entry) {
        const element = document.createElement('div');
        const marker = new maplibregl.Marker({ element, anchor: item.anchor ?? 'center' })
          .setLngLat(item.lngLat)
          .addTo(this.map);
        entry = { marker, element };
        this.markers.set(item.key, entry);
      } else {
        entry.marker.setLngLat(item.lngLat);
      }
      item.build(entry.element);
    }
    for (const [key, entry] of this.markers) {
      if (!seen.has(key)) {
        entry.marker.remove();
        this.markers.delete(key);
      }
    }
  }
}

/** Sets a marker's own classes, keeping those MapLibre gave it (its position depends on them). */
function setClasses(element: HTMLElement, classes: string): void {
  const kept = [...element.classList].filter((name) => name.startsWith('maplibregl-'));
  const next = [...kept, ...classes.split(' ').filter(Boolean)].join(' ');
  if (element.className !== next) {
    element.className = next;
  }
}

function setIfChanged(element: HTMLElement, html: string): void {
  if (element.dataset.html !== html) {
    element.innerHTML = html;
    element.dataset.html = html;
  }
}

export class MapView {
  readonly map: maplibregl.Map;
  private loaded = false;
  private pending = new Map<SourceName, FeatureCollection>();
  private fitted = false;
  private aircraft: MarkerSet;
  private alertMarkers: MarkerSet;
  private conflictLabels: MarkerSet;
  private popup = new maplibregl.Popup({ closeButton: false, closeOnClick: false, className: 'intent-popup' });

  constructor(container: HTMLElement) {
    this.map = new maplibregl.Map({
      container,
      style: style(),
      center: [38.5, 35],
      zoom: 5,
      attributionControl: false,
      renderWorldCopies: false,
    });
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: true }), 'top-left');
    this.map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
    this.aircraft = new MarkerSet(this.map);
    this.alertMarkers = new MarkerSet(this.map);
    this.conflictLabels = new MarkerSet(this.map);
    this.map.on('load', () => {
      this.loaded = true;
      for (const [name, data] of this.pending) {
        this.source(name)?.setData(data);
      }
      this.pending.clear();
      void this.loadBasemap();
    });
    this.map.on('mousemove', 'intents-fill', (event: MapLayerMouseEvent) => {
      const properties = event.features?.[0]?.properties;
      if (properties) {
        this.popup.setLngLat(event.lngLat).setHTML(String(properties.summary)).addTo(this.map);
      }
    });
    this.map.on('mouseleave', 'intents-fill', () => this.popup.remove());
  }

  private source(name: SourceName): GeoJSONSource | undefined {
    return this.map.getSource(name) as GeoJSONSource | undefined;
  }

  private setData(name: SourceName, data: FeatureCollection): void {
    if (this.loaded) {
      this.source(name)?.setData(data);
    } else {
      this.pending.set(name, data);
    }
  }

  private async loadBasemap(): Promise<void> {
    try {
      const response = await fetch(countriesUrl);
      const topology = (await response.json()) as Topology;
      const countries = feature(topology, topology.objects.countries) as unknown as FeatureCollection;
      this.setData('countries', countries);
      this.map.getContainer().dataset.basemap = 'loaded';
    } catch (error) {
      console.error('the basemap could not be loaded', error);
    }
  }

  /** Moves the view to `extent` the first time there is something to show. */
  fitOnce(extent: Extent): void {
    if (this.fitted || extent.empty) {
      return;
    }
    this.fitted = true;
    this.fit(extent);
  }

  /** Shows `extent` with `pad` degrees around it. */
  fit(extent: Extent, pad = 0.2): void {
    if (extent.empty) {
      return;
    }
    this.fitted = true;
    this.map.fitBounds(
      [
        [extent.west - pad, extent.south - pad],
        [extent.east + pad, extent.north + pad],
      ],
      { padding: 40, maxZoom: 9, duration: 0 },
    );
  }

  setRegion(region: { vertices: LatLng[] } | null): Extent {
    const extent = new Extent();
    const features: Feature[] = [];
    if (region?.vertices?.length) {
      const ring = polygonRing(region.vertices);
      extent.addRing(ring);
      features.push({ type: 'Feature', geometry: { type: 'LineString', coordinates: ring }, properties: {} });
    }
    this.setData('region', { type: 'FeatureCollection', features });
    return extent;
  }

  setIntents(intents: Intent[]): Extent {
    const extent = new Extent();
    const features: Feature[] = [];
    for (const intent of intents) {
      intent.volumes.forEach((volume, index) => {
        const summary =
          `<strong>${escapeHtml(intent.id)}</strong> (${escapeHtml(intent.state)}), volume ${index + 1}<br>` +
          `${altitudeBand(volume.volume.altitude_lower?.value, volume.volume.altitude_upper?.value)}<br>` +
          `${utc(volume.time_start?.value)} to ${utc(volume.time_end?.value)}`;
        const polygon = volumeFeature(volume, { intent: intent.id, state: intent.state, summary });
        if (polygon) {
          if (intent.state !== 'ended') {
            extent.addRing(polygon.geometry.coordinates[0]);
          }
          features.push(polygon);
        }
      });
    }
    this.setData('intents', { type: 'FeatureCollection', features });
    return extent;
  }

  /** Outlines the given intent more strongly (keyboard focus or hover in the list). */
  focusIntent(id: string | null): void {
    if (this.loaded) {
      this.map.setFilter('intents-focus', ['==', ['get', 'intent'], id ?? '']);
    }
  }

  setConflicts(conflicts: Conflict[]): Extent {
    const extent = new Extent();
    const features: Feature[] = [];
    const labels: Parameters<MarkerSet['sync']>[0] = [];
    for (const conflict of conflicts.filter((c) => c.status === 'open')) {
      const who = conflict.counterpart
        ? `with ${conflict.counterpart.party}`
        : conflict.parties
          ? `${conflict.parties[0]} / ${conflict.parties[1]}`
          : '';
      conflict.overlaps.forEach((overlap, index) => {
        const geometry = overlap.region as Geometry;
        features.push({ type: 'Feature', geometry, properties: { conflict: conflict.id } });
        const firstRing = overlap.region.coordinates[0]?.[0];
        if (firstRing?.length) {
          extent.addRing(firstRing);
          if (index === 0) {
            // The label sits just above the region so that it hides none of it.
            const [lon] = ringCenter(firstRing);
            const lat = Math.max(...firstRing.map((position) => position[1]));
            labels.push({
              key: conflict.id,
              lngLat: [lon, lat],
              anchor: 'bottom',
              build: (element) => {
                setClasses(element, 'map-label conflict-label');
                element.dataset.conflict = conflict.id;
                element.setAttribute('role', 'img');
                element.setAttribute(
                  'aria-label',
                  `Conflict region ${who}, ${altitudeBand(overlap.altitude_lower_m, overlap.altitude_upper_m)}`,
                );
                setIfChanged(
                  element,
                  `<span class="glyph" aria-hidden="true">⚠</span> CONFLICT ${escapeHtml(who)}<br><small>${altitudeBand(
                    overlap.altitude_lower_m,
                    overlap.altitude_upper_m,
                  )}, ${escapeHtml(utc(overlap.time_start).slice(11))}–${escapeHtml(utc(overlap.time_end).slice(11))}</small>`,
                );
              },
            });
          }
        }
      });
    }
    this.setData('conflicts', { type: 'FeatureCollection', features });
    this.conflictLabels.sync(labels);
    return extent;
  }

  setTracks(tracks: Map<string, TrackView>, alerts: Alert[]): Extent {
    const extent = new Extent();
    const trails: Feature[] = [];
    const items: Parameters<MarkerSet['sync']>[0] = [];
    for (const [id, { latest, trail }] of tracks) {
      extent.add(latest.lon, latest.lat);
      if (trail.length >= 2) {
        trails.push({ type: 'Feature', geometry: { type: 'LineString', coordinates: trail }, properties: { id } });
      }
      const heading = Math.round(headingDeg(latest.vn_mps, latest.ve_mps));
      const level = alertLevelOf(id, alerts);
      const label = `${latest.party ? `${latest.party} ` : ''}${id}`;
      items.push({
        key: id,
        lngLat: [latest.lon, latest.lat],
        build: (element) => {
          setClasses(element, `aircraft${level ? ` in-alert level-${level}` : ''}`);
          element.dataset.aircraft = id;
          element.dataset.lat = String(latest.lat);
          element.dataset.lon = String(latest.lon);
          element.setAttribute('role', 'img');
          element.setAttribute(
            'aria-label',
            `Aircraft ${label}, heading ${heading}°, ${Math.round(latest.alt_m)} m, ${Math.round(
              groundSpeedMps(latest.vn_mps, latest.ve_mps),
            )} m/s${level ? `, in ${level} alert` : ''}`,
          );
          element.title = element.getAttribute('aria-label') ?? '';
          setIfChanged(
            element,
            `<span class="glyph" aria-hidden="true" style="transform: rotate(${heading}deg)">▲</span>` +
              `<span class="label">${escapeHtml(label)}${level ? ` · ${LEVEL_LABEL[level]}` : ''}</span>`,
          );
        },
      });
    }
    this.setData('trails', { type: 'FeatureCollection', features: trails });
    this.aircraft.sync(items);
    return extent;
  }

  setAlerts(alerts: Alert[]): void {
    const lines: Feature[] = [];
    const items: Parameters<MarkerSet['sync']>[0] = [];
    const line = (a: { lat: number; lon: number }, b: { lat: number; lon: number }, alert: string) =>
      lines.push({
        type: 'Feature',
        geometry: { type: 'LineString', coordinates: [[a.lon, a.lat], [b.lon, b.lat]] },
        properties: { alert },
      });
    const counterpartMarker = (alert: Alert, aircraft: CounterpartState, index: number) => {
      items.push({
        key: `${alert.id}:aircraft:${index}`,
        lngLat: [aircraft.lon, aircraft.lat],
        build: (element) => {
          const heading = Math.round(headingDeg(aircraft.vn_mps, aircraft.ve_mps));
          setClasses(element, `counterpart level-${alert.level}`);
          element.dataset.counterpart = aircraft.ref;
          element.dataset.lat = String(aircraft.lat);
          element.dataset.lon = String(aircraft.lon);
          element.dataset.alert = alert.id;
          element.setAttribute('role', 'img');
          element.setAttribute(
            'aria-label',
            `${aircraft.party} aircraft in ${alert.level} alert, heading ${heading}°, ${Math.round(aircraft.alt_m)} m`,
          );
          element.title = element.getAttribute('aria-label') ?? '';
          setIfChanged(
            element,
            `<span class="glyph" aria-hidden="true" style="transform: rotate(${heading}deg)">◆</span>` +
              `<span class="label">${escapeHtml(aircraft.party)} · ${LEVEL_LABEL[alert.level]}</span>`,
          );
        },
      });
    };
    const cpaMarker = (alert: Alert, point: Position3, index: number) => {
      items.push({
        key: `${alert.id}:cpa:${index}`,
        lngLat: [point.lon, point.lat],
        build: (element) => {
          setClasses(element, `cpa level-${alert.level}`);
          element.dataset.cpa = alert.id;
          element.setAttribute('role', 'img');
          element.setAttribute(
            'aria-label',
            `Predicted closest point of approach in ${Math.round(alert.tcpa_s)} s, ${metres(alert.dcpa_m)} apart`,
          );
          element.title = element.getAttribute('aria-label') ?? '';
          setIfChanged(
            element,
            `<span class="glyph" aria-hidden="true">✕</span>${
              index === 0 ? `<span class="label">CPA ${Math.round(alert.tcpa_s)} s</span>` : ''
            }`,
          );
        },
      });
    };
    for (const alert of alerts) {
      if (alert.own && alert.counterpart) {
        counterpartMarker(alert, alert.counterpart, 0);
        if (alert.cpa.own) {
          line(alert.own, alert.cpa.own, alert.id);
          cpaMarker(alert, alert.cpa.own, 0);
        }
        if (alert.cpa.counterpart) {
          line(alert.counterpart, alert.cpa.counterpart, alert.id);
          cpaMarker(alert, alert.cpa.counterpart, 1);
        }
        if (alert.cpa.own && alert.cpa.counterpart) {
          line(alert.cpa.own, alert.cpa.counterpart, alert.id);
        }
      } else if (alert.aircraft) {
        alert.aircraft.forEach((aircraft, index) => {
          counterpartMarker(alert, aircraft, index);
          const point = alert.cpa.points?.[index];
          if (point) {
            line(aircraft, point, alert.id);
            cpaMarker(alert, point, index);
          }
        });
      }
    }
    this.setData('cpa', { type: 'FeatureCollection', features: lines });
    this.alertMarkers.sync(items);
  }

  resize(): void {
    this.map.resize();
  }

  remove(): void {
    this.map.remove();
  }
}
