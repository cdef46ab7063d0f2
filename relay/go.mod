module github.com/sagaoutbox/platform/relay

go 1.26.0

replace github.com/sagaoutbox/platform/commonlib => ../commonlib

replace github.com/sagaoutbox/platform/customer => ../customer

replace github.com/sagaoutbox/platform/payment => ../payment

replace github.com/sagaoutbox/platform/debezium => ../debezium
