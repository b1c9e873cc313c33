package main

import (
	"fmt"

	"github.com/ferry-dev/ferry/pkg/address"
	"github.com/ferry-dev/ferry/pkg/promote"
)

func (a *app) herokuSource(ad address.Address) (promote.Source, error) {
	return nil, promote.Input(fmt.Errorf("source %s: heroku sources are not wired yet", ad))
}

func (a *app) herokuTarget(ad address.Address) (promote.Target, error) {
	return nil, promote.Input(fmt.Errorf("target %s: heroku targets are not wired yet", ad))
}
