// Package accounts reads the named Green API accounts one service posts
// for: a file (JSON or YAML) listing, per account, its name, hosts,
// idInstance and where its token comes from (an environment variable or a
// file only its owner can read; never the token itself, since such a file
// is easily committed). The worker picks a job's Green API client by the
// job's account; an unknown name fails the job, so that no status goes to
// the wrong number.
//
// The file looks like this (YAML; the JSON has the same fields):
//
//	accounts:
//	  - name: shop
//	    idInstance: "1101000001"
//	    tokenEnv: SHOP_GREENAPI_TOKEN
//	  - name: news
//	    apiUrl: https://7103.api.greenapi.com
//	    idInstance: "7103000002"
//	    tokenFile: /run/secrets/news-token
package accounts
