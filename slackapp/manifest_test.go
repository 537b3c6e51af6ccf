package slackapp

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// The manifest users create the app from must give what this package and
// the notifier use: Socket Mode, interactivity without a request URL, and
// the chat:write scope behind postMessage, postEphemeral and update.
func TestTheAppManifestEnablesWhatTheHandlerUses(t *testing.T) {
	data, err := os.ReadFile("../deploy/slack/manifest.yaml")
	require.NoError(t, err)
	var m struct {
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
		Settings struct {
			Interactivity struct {
				Enabled    bool   `yaml:"is_enabled"`
				RequestURL string `yaml:"request_url"`
			} `yaml:"interactivity"`
			SocketMode bool `yaml:"socket_mode_enabled"`
		} `yaml:"settings"`
		Features struct {
			Bot struct {
				Name string `yaml:"display_name"`
			} `yaml:"bot_user"`
		} `yaml:"features"`
	}
	require.NoError(t, yaml.Unmarshal(data, &m))
	assert.True(t, m.Settings.SocketMode, "socket mode: no public endpoint")
	assert.True(t, m.Settings.Interactivity.Enabled, "buttons need interactivity")
	assert.Empty(t, m.Settings.Interactivity.RequestURL, "clicks come over the socket")
	assert.Contains(t, m.OAuth.Scopes.Bot, "chat:write")
	assert.NotEmpty(t, m.Features.Bot.Name, "a bot user holds the bot token")
}
