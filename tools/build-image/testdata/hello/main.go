// Command hello is a tiny static binary that stands in for seal where its size only costs time.
package main

import "fmt"

func main() { fmt.Println("hello") }
