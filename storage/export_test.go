package storage

// SetListPageSize makes List ask for n keys per page, to test paging
// without thousands of objects.
func SetListPageSize(s *Store, n int32) { s.listPageSize = n }

// SetPutFileLimit makes PutFile take the multipart path above n bytes
// instead of 5 GiB.
func SetPutFileLimit(s *Store, n int64) { s.putFileLimit = n }
