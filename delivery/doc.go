// Package delivery follows statuses after they were sent, the one proof
// Green API gives that a status went out: getOutgoingStatuses. Green API
// answers every accepted send with an idMessage, also for a status that
// will never reach anyone (a link it cannot fetch, a video WhatsApp will
// not play), so a post is only known to have arrived once the outgoing
// list shows it as sent, delivered or read.
//
// One Tracker serves all the statuses of a process: a single goroutine
// lists the outgoing statuses (Green API allows one such request per
// second per instance) with backoff while any status is followed, and
// reports each status once: as soon as it shows, or as not_confirmed when
// its window ends. A send whose answer was lost (outcome_unknown) is
// followed by what it said instead of its idMessage, and is resolved only
// when exactly one status matches it. Nothing here ever sends.
package delivery
