package chat_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/memory"
)

// Upload a file, send it in a message and read it back. A Service has
// attachments when it has a BlobStore (here in memory; fsblob keeps them
// in a directory) and its Store is an AttachmentStore.
func ExampleService_UploadAttachment() {
	ctx := context.Background()
	svc, err := chat.New(chat.Config{Store: memory.NewStore(), Blobs: memory.NewBlobStore()})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(ctx)
	c, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	if err != nil {
		log.Fatal(err)
	}

	// The type comes from the bytes, whatever the client says.
	a, err := svc.UploadAttachment(ctx, "alice", c.ID, chat.AttachmentUpload{Name: "notes.txt", Body: strings.NewReader("buy milk"), Size: -1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Name, a.ContentType, a.Size)

	m, _, err := svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Attachments: []string{a.ID}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("message", m.Seq, "carries", m.Attachments[0].Name)

	_, blob, err := svc.OpenAttachment(ctx, "bob", c.ID, a.ID)
	if err != nil {
		log.Fatal(err)
	}
	defer blob.Close()
	data, _ := io.ReadAll(blob)
	fmt.Println("bob reads:", string(data))

	// An HTML page is refused: it could run scripts where it is shown.
	_, err = svc.UploadAttachment(ctx, "alice", c.ID, chat.AttachmentUpload{Body: strings.NewReader("<html><script>alert(1)</script>"), Size: -1})
	fmt.Println(err)
	// Output:
	// notes.txt text/plain; charset=utf-8 8
	// message 1 carries notes.txt
	// bob reads: buy milk
	// chat: unsupported media type: attachments of type text/html are not allowed here
}
