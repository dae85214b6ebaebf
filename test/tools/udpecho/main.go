// Command udpecho is a static helper for ctr's tests (busybox's nc has no
// UDP): `udpecho serve PORT` echoes every datagram back and prints it;
// `udpecho send HOST:PORT MESSAGE` sends one and prints the echo.
package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "udpecho:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 2 && args[0] == "serve" {
		c, err := net.ListenPacket("udp", ":"+args[1])
		if err != nil {
			return err
		}
		fmt.Println("ready")
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return err
			}
			fmt.Printf("%s\n", buf[:n])
			if _, err := c.WriteTo(buf[:n], from); err != nil {
				return err
			}
		}
	}
	if len(args) == 3 && args[0] == "send" {
		c, err := net.Dial("udp", args[1])
		if err != nil {
			return err
		}
		buf := make([]byte, 65536)
		// UDP may be dropped before the forwarder is ready: retry.
		for range 50 {
			if _, err := c.Write([]byte(args[2])); err != nil {
				return err
			}
			_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, err := c.Read(buf)
			if err == nil {
				fmt.Printf("%s\n", buf[:n])
				return nil
			}
		}
		return fmt.Errorf("no echo from %s", args[1])
	}
	return fmt.Errorf("usage: udpecho serve PORT | udpecho send HOST:PORT MESSAGE")
}
