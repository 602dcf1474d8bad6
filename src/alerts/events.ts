/**
 * The events an alert can be raised for, in one place that both the configuration schema
 * (`webhooks:` keys) and the alert senders import, so that neither depends on the other.
 */
export const ALERT_EVENTS = ['profile_change', 'rollback', 'budget_exceeded', 'series_exceeded', 'coverage_violation'] as const;
export type AlertEvent = (typeof ALERT_EVENTS)[number];

export function isAlertEvent(value: string): value is AlertEvent {
  return (ALERT_EVENTS as readonly string[]).includes(value);
}
