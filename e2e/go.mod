module github.com/sagaoutbox/platform/e2e

go 1.26.0
