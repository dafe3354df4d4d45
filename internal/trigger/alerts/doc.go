// Package alerts is the Alertmanager webhook receiver of AgentTriggers whose source is
// spec.alerts. The manager serves it at /alerts/<namespace>/<trigger>; Alertmanager
// posts its webhook_config payload there with the trigger's bearer token
// (http_config.authorization.credentials), and the alerts that pass the trigger's
// matchers are handed to the engine: a firing group makes it create a query, a
// resolved one closes the loop.
//
// The receiver holds no state and no client: the engine injects how to read a
// trigger (from the operator's cache), how to read its token (as the trigger's
// requester, so a trigger can only use a Secret its author may read), how to match
// labels, and what to do with a notification.
//
// # Status codes
//
// Alertmanager retries a notification on 5xx answers only, so a 4xx is an answer
// for people (it shows in Alertmanager's log) and a 5xx means "try again".
//
//	200 OK                     the notification was handled: alerts fired, or none
//	                           matched, or the trigger is suspended (its body says
//	                           which). Suspension is a choice, not a failure, so
//	                           Alertmanager should not log or retry it.
//	400 Bad Request            the body is not a version "4" webhook payload.
//	401 Unauthorized           no "Authorization: Bearer" token, a wrong one, an
//	                           unknown trigger, a trigger without spec.alerts (it has
//	                           no token to check against), or a token Secret the
//	                           requester may not read or that is empty. All of these
//	                           answer the same headers and body, so the endpoint
//	                           never tells whether a trigger exists.
//	404 Not Found              the path is not /alerts/<namespace>/<name> with DNS
//	                           names; this depends on the path alone.
//	405 Method Not Allowed     anything but POST (Allow: POST).
//	410 Gone                   the trigger is being deleted.
//	413 Content Too Large      the body is over Receiver.MaxBodyBytes.
//	422 Unprocessable Content  the trigger's matchers cannot be evaluated, or the
//	                           engine refused the notification for good (an error
//	                           wrapping ErrPermanent, for example a requester who may
//	                           not create queries): retrying cannot help.
//	500 Internal Server Error  the Receiver is missing a dependency (a wiring bug).
//	503 Service Unavailable    the trigger or its token could not be read right now,
//	                           or the engine failed to fire; Alertmanager retries.
//
// A 503 from a failed token read is the one answer that depends on a trigger
// existing; it only happens while the API server or cache is failing, which a caller
// cannot cause. Response times may also differ between an unknown trigger and a
// wrong token (the latter reads the token); the names this could reveal are the
// least secret part of a trigger.
//
// The token is compared in constant time and never logged or echoed. Each
// authenticated notification is logged as one line.
package alerts
