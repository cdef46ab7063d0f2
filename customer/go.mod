module github.com/sagaoutbox/platform/customer

go 1.26.0
