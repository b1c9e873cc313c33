package heroku

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	hk "github.com/heroku/heroku-go/v5"
)

// State is a Heroku target's rollback point, kept in
// promote.Snapshot.State.
type State struct {
	App string `json:"app"`
	// ReleaseID and Version name the release that was current; empty for
	// an app that had none.
	ReleaseID string `json:"release_id,omitempty"`
	Version   int    `json:"version,omitempty"`
	Status    string `json:"status,omitempty"`
	// Images maps process types to the short image id they ran, when
	// known.
	Images map[string]string `json:"images,omitempty"`
	// TopVersion is the newest release version at the time, current or
	// not: releases above it were made later.
	TopVersion int `json:"top_version,omitempty"`
	// ImageID is the image id (config digest) of the image about to be
	// promoted, for the snapshot of a promotion.
	ImageID string `json:"image_id,omitempty"`
}

// change is what a release or a rollback did to an app, kept in
// promote.Change.State.
type change struct {
	// Moved are the :latest tags the copy pointed at the new image.
	Moved []movedTag `json:"moved,omitempty"`
	// Sent is true once the formation PATCH (or the rollback POST) was
	// sent: from then on a release may exist. Before, nothing of the app
	// changed.
	Sent bool `json:"sent,omitempty"`
	// Release is the release that request made, once found; its Status
	// is the last one seen.
	Release *releaseRef `json:"release,omitempty"`
}

// releaseRef names a release.
type releaseRef struct {
	ID          string `json:"id"`
	Version     int    `json:"version"`
	Status      string `json:"status,omitempty"`
	Description string `json:"description,omitempty"`
}

func refOf(r *hk.Release) *releaseRef {
	return &releaseRef{ID: r.ID, Version: r.Version, Status: r.Status, Description: r.Description}
}

// movedTag is APP/PROCESS:latest as ferry's copy left it: what it named
// before (nil when there was no such tag) and the manifest ferry wrote.
//
// The tag matters after a failed promotion: `heroku container:release`
// releases whatever :latest names, and ferry's own Heroku source checks
// the release it reads against it. So a restore puts it back too.
type movedTag struct {
	Tag    string         `json:"tag"`
	Before *v1.Descriptor `json:"before,omitempty"`
	Ours   v1.Hash        `json:"ours"`
}
