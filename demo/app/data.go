package app

// Property is a listing of the agency the demo pretends to be; the records
// only need to look like a real API answer.
type Property struct {
	ID       int     `json:"id"`
	Title    string  `json:"title"`
	City     string  `json:"city"`
	Type     string  `json:"type"`
	Rooms    int     `json:"rooms"`
	AreaM2   float64 `json:"areaM2"`
	PriceEUR int     `json:"priceEUR"`
}

// User is an agent or client account of the demo agency.
type User struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Role  string `json:"role"`
}

var properties = []Property{
	{ID: 1, Title: "Appartement lumineux près du port", City: "Marseille", Type: "apartment", Rooms: 3, AreaM2: 68, PriceEUR: 289000},
	{ID: 2, Title: "Maison de ville avec jardin", City: "Lyon", Type: "house", Rooms: 5, AreaM2: 132, PriceEUR: 545000},
	{ID: 3, Title: "Studio rénové, quartier Latin", City: "Paris", Type: "studio", Rooms: 1, AreaM2: 24, PriceEUR: 312000},
	{ID: 4, Title: "Villa avec piscine", City: "Nice", Type: "house", Rooms: 6, AreaM2: 210, PriceEUR: 1150000},
	{ID: 5, Title: "T2 proche tramway", City: "Bordeaux", Type: "apartment", Rooms: 2, AreaM2: 45, PriceEUR: 219000},
}

var users = []User{
	{ID: 1, Name: "Camille Martin", Email: "camille.martin@example.com", Role: "agent"},
	{ID: 2, Name: "Lucas Bernard", Email: "lucas.bernard@example.com", Role: "agent"},
	{ID: 3, Name: "Inès Dubois", Email: "ines.dubois@example.com", Role: "client"},
	{ID: 4, Name: "Hugo Petit", Email: "hugo.petit@example.com", Role: "client"},
}
