package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
)

// maxGenerations bounds how often the same object may come back.
const maxGenerations = 100

// jobID finds the id for a new job of o, false when o has a job already.
// The id is made from the object; an object dropped again after its job
// moved it out of the inbox (moved back from failed/ after fixing its
// sidecar, say) is a new generation of it.
func (in *Inbox) jobID(ctx context.Context, o storage.Object) (string, bool, error) {
	base := inboxJobID(o)
	for gen := 1; gen <= maxGenerations; gen++ {
		id := base
		if gen > 1 {
			id = fmt.Sprintf("%s-%d", base, gen)
		}
		j, err := in.cfg.Jobs.Get(ctx, id)
		switch {
		case errors.Is(err, queue.ErrNotFound):
			return id, true, nil
		case err != nil:
			return "", false, err
		case !j.State.Final():
			// Running or waiting; or its process died between storing
			// its record and queueing it.
			if ok, err := in.cfg.Jobs.Requeue(ctx, id); err != nil {
				return "", false, err
			} else if ok {
				in.log.Warn("inbox: requeued a job that had no message", "job", id, "key", o.Key)
			}
			return "", false, nil
		case j.MovedTo == "" && j.State == queue.StateFailed && in.cfg.Finish != nil && j.Moving == "":
			if err := in.cfg.Finish(ctx, j); err != nil {
				in.log.Warn("inbox: moving a failed job's source to failed/", "job", id, "err", err)
			}
			in.forgetKey(o.Key)
			return "", false, nil
		case j.MovedTo == "":
			// Finished, and its source could not be moved: it stays
			// here. Keep the record from expiring, so the file is not
			// taken again.
			if time.Since(j.Updated) > 24*time.Hour {
				if _, err := in.cfg.Jobs.Update(ctx, id, func(*queue.Job) error { return nil }); err != nil {
					return "", false, err
				}
				in.log.Warn("inbox: a finished job's source is still in the inbox; remove it by hand",
					"job", id, "key", o.Key, "state", j.State, "code", j.ErrorCode)
			}
			in.forgetKey(o.Key)
			return "", false, nil
		}
		// Its job moved it away. Still here after that? Then it came back.
		now, found, err := in.cfg.Bucket.Lookup(ctx, o.Key)
		if err != nil || !found || now.ETag != o.ETag {
			return "", false, err
		}
		// Keep this generation's record while the file is here: were it
		// to expire, its id would be free and the file taken again.
		if time.Since(j.Updated) > 24*time.Hour {
			if _, err := in.cfg.Jobs.Update(ctx, id, func(*queue.Job) error { return nil }); err != nil {
				return "", false, err
			}
		}
	}
	return "", false, fmt.Errorf("inbox: %s was dropped again %d times; not taking it", o.Key, maxGenerations)
}

// inboxJobID names the job of a dropped object after its key, size and
// ETag: the same object is the same job in every process; the same key
// uploaded again with other content is a new one.
func inboxJobID(o storage.Object) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%s", o.Key, o.Size, o.ETag)))
	return "in-" + hex.EncodeToString(sum[:12])
}
