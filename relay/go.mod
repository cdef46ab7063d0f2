module github.com/sagaoutbox/platform/relay

go 1.26.0
