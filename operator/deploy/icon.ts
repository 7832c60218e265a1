// The OperatorHub icon: a vault door whose dial is a compass rose (autopilot).
// Drawn for this project; square viewBox as OperatorHub asks.

export const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128" width="128" height="128">
<rect x="4" y="4" width="120" height="120" rx="20" fill="#1f2937"/>
<rect x="14" y="14" width="100" height="100" rx="12" fill="#374151" stroke="#9ca3af" stroke-width="3"/>
<rect x="8" y="34" width="10" height="16" rx="3" fill="#9ca3af"/>
<rect x="8" y="78" width="10" height="16" rx="3" fill="#9ca3af"/>
<circle cx="66" cy="64" r="36" fill="#111827" stroke="#fbbf24" stroke-width="5"/>
<g stroke="#fbbf24" stroke-width="4" stroke-linecap="round">
<line x1="66" y1="34" x2="66" y2="44"/><line x1="66" y1="84" x2="66" y2="94"/>
<line x1="36" y1="64" x2="46" y2="64"/><line x1="86" y1="64" x2="96" y2="64"/>
</g>
<path d="M66 44 L73 64 L66 84 L59 64 Z" fill="#fbbf24"/>
<path d="M66 44 L73 64 L59 64 Z" fill="#f59e0b"/>
<circle cx="66" cy="64" r="5" fill="#111827" stroke="#fbbf24" stroke-width="2"/>
</svg>
`;

export const ICON_MEDIATYPE = 'image/svg+xml';

export function iconBase64(): string {
  return Buffer.from(ICON_SVG, 'utf8').toString('base64');
}
