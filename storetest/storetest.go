// Package storetest provides a conformance suite for chat.Store
// implementations.
//
// Every Store in this module runs it unmodified, and so can a third-party
// one:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) chat.Store {
//			return mystore.New(openTestDB(t))
//		})
//	}
package storetest

import (
	"testing"

	"github.com/embedchat/chat"
)

// Run checks that the stores returned by newStore keep every clause of the
// chat.Store contract, and of the optional abilities (chat.ChatCounter,
// chat.ChatIDsBatcher, chat.RoleStore, chat.SettingsStore,
// chat.BlockStore, chat.AttachmentStore) they have, each in its own
// subtest (CreateChat/..., AppendMessage/... and so on), so that -run can
// select them.
//
// newStore is called once per subtest, with that subtest's t, and must
// return an empty store that shares no data with any other store it has
// returned; it registers whatever cleanup the store needs with t.Cleanup.
// Subtests run one after another, never in parallel; some of them call
// their store from many goroutines at once.
func Run(t *testing.T, newStore func(t *testing.T) chat.Store) {
	for _, group := range suite {
		t.Run(group.name, func(t *testing.T) {
			for _, test := range group.tests {
				t.Run(test.name, func(t *testing.T) {
					test.run(newFixture(t, newStore(t)))
				})
			}
		})
	}
}

type subtest struct {
	name string
	run  func(f *fixture)
}

var suite = []struct {
	name  string
	tests []subtest
}{
	{"CreateChat", []subtest{
		{"StoresFields", testCreateChatStoresFields},
		{"DirectKeyReturnsExistingChat", testCreateChatDirectKeyReturnsExisting},
		{"ConcurrentSameDirectKeyCreatesOneChat", testCreateChatConcurrentDirectKey},
		{"GroupKeyReturnsExistingChat", testCreateChatGroupKeyReturnsExisting},
		{"EmptyDirectKeyNeverDeduplicates", testCreateChatEmptyDirectKey},
		{"MembersStartUnreadWithoutLastMessage", testCreateChatStartsMembersUnread},
	}},
	{"GetChat", []subtest{
		{"MissingChatIsNotFound", testGetChatMissing},
	}},
	{"GetMember", []subtest{
		{"ReturnsMembership", testGetMember},
		{"MissingChatIsNotFound", testGetMemberMissingChat},
		{"NonMemberIsNotFound", testGetMemberNonMember},
	}},
	{"AppendMessage", []subtest{
		{"AssignsSeqsAndUpdatesChat", testAppendAssignsSeqs},
		{"StoresFields", testAppendStoresFields},
		{"MissingChatIsNotFound", testAppendMissingChat},
		{"NonMemberIsNotFound", testAppendNonMember},
		{"RetryWithClientIDReturnsOriginal", testAppendRetryReturnsOriginal},
		{"ClientIDIsPerSenderAndChat", testAppendClientIDScope},
		{"EmptyClientIDNeverDeduplicates", testAppendEmptyClientID},
		{"ConcurrentSendsGetGapFreeSeqs", testAppendConcurrentSends},
		{"ConcurrentRetriesStoreOneMessage", testAppendConcurrentRetries},
	}},
	{"EditMessage", []subtest{
		{"EditIsNextEventAndShowsEverywhere", testEditUpdatesMessage},
		{"DeleteLeavesTombstone", testDeleteLeavesTombstone},
		{"EditingDeletedIsConflict", testEditDeletedIsConflict},
		{"DeletingTwiceChangesNothing", testDeleteTwiceChangesNothing},
		{"OnlyTheSenderIsAllowed", testEditOnlyBySender},
		{"SeqThatIsNoMessageIsNotFound", testEditMissingMessage},
		{"NonMemberIsNotFound", testEditNonMember},
		{"ConcurrentChangesGetGapFreeSeqs", testEditConcurrent},
	}},
	{"ListMessages", []subtest{
		{"Newest", testListMessagesNewest},
		{"Before", testListMessagesBefore},
		{"Forward", testListMessagesForward},
		{"ChatWithoutMessages", testListMessagesEmptyChat},
		{"MissingChatIsEmpty", testListMessagesMissingChat},
		{"AmongOtherEvents", testListMessagesAmongOtherEvents},
	}},
	{"ListEvents", []subtest{
		{"ReturnsMessageCreatedEvents", testListEvents},
		{"AfterSeqAndLimit", testListEventsAfterSeqAndLimit},
		{"EveryTypeInOrder", testListEventsEveryType},
	}},
	{"MarkRead", []subtest{
		{"MovesForwardOnly", testMarkReadForwardOnly},
		{"ClampsToLastSeq", testMarkReadClamps},
		{"NonMemberIsNotFound", testMarkReadNotFound},
		{"ConcurrentMarksKeepTheHighest", testMarkReadConcurrent},
	}},
	{"AddMember", []subtest{
		{"AddsAsNextEvent", testAddMember},
		{"CurrentMemberChangesNothing", testAddExistingMember},
		{"DirectChatIsInvalid", testAddMemberToDirectChat},
		{"FullChatIsInvalid", testAddMemberToFullChat},
		{"NonMemberIsNotFound", testAddMemberByNonMember},
		{"ReturningMemberStartsAtNewEvent", testAddMemberAgainAfterRemoval},
	}},
	{"RemoveMember", []subtest{
		{"SelfRemoval", testRemoveSelf},
		{"CreatorRemovesOthers", testRemoveByCreator},
		{"OthersAreForbidden", testRemoveOthersForbidden},
		{"NonMembersAreNotFound", testRemoveNotFound},
		{"DirectChatIsInvalid", testRemoveFromDirectChat},
		{"CreatorWhoLeftHasNoRights", testRemoveCreatorLeaves},
	}},
	{"LastMessage", []subtest{
		{"NilWithoutMessages", testLastMessageNilWithoutMessages},
		{"IsNewestMessage", testLastMessageIsNewestMessage},
	}},
	{"UnreadCounts", []subtest{
		{"CountsOthersMessagesAfterMarker", testUnreadCounts},
		{"FollowsMarkReadAndDeletes", testUnreadCountsAfterMarkRead},
		{"LateMemberStartsAtZero", testUnreadCountsLateMember},
		{"LeavesOutOtherIDs", testUnreadCountsLeavesOutOtherIDs},
		{"ConcurrentWritersAndReader", testUnreadCountsConcurrent},
	}},
	{"ListChats", []subtest{
		{"OnlyTheUsersChats", testListChatsOnlyMembers},
		{"OrderedByActivityThenID", testListChatsOrder},
		{"SendMovesChatToFront", testListChatsSendMovesToFront},
		{"PagingWalksEveryChatOnce", testListChatsPaging},
	}},
	{"ChatIDs", []subtest{
		{"ReturnsEveryChatOfUser", testChatIDs},
	}},
	{"CountChats", []subtest{
		{"CountsEveryChatOfEachUser", testCountChats},
	}},
	{"ChatIDsOf", []subtest{
		{"ReturnsEveryChatOfEachUser", testChatIDsOf},
	}},
	{"LastSeqs", []subtest{
		{"ReturnsExistingChats", testLastSeqs},
	}},
	{"Attachments", attachmentTests},
	{"Context", []subtest{
		{"CancelledReadsFail", testCancelledReads},
		{"CancelledWritesFailWholly", testCancelledWrites},
		{"CancelledChangesFailWholly", testCancelledChangesFailWholly},
	}},
	{"Roles", rolesTests},
	{"Settings", settingsTests},
	{"Blocks", blocksTests},
}
