/**
 * The event-clock tests' relative policy: a 2-day window in hourly buckets, 1-day inactivity and
 * boundaries every 6 h, so an input of two or three days spans several instants while buckets
 * leave the window and customers go quiet in between (timers fire at the instants too).
 */
export const SHARE_EVCLOCK_POLICY = `
version: "evclock-1"
name: share-evclock
currency: CNY
window: 2d
bucket: 1h
inactivity: { after: 1d, tier: lapsed }
ranking: { every: 6h }
tiers:
  - name: vip
    relative: { monetary: { top: "10%" } }
  - name: major
    relative: { monetary: { from: "10%", to: "40%" } }
fallback: small
`;
