package sigpolicy

import "encoding/base64"

func hintOf(sum []byte) string { return base64.StdEncoding.EncodeToString(sum) }
