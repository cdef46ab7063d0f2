module github.com/sagaoutbox/platform/payment

go 1.26.0
